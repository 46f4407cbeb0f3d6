"""One error handler (log with exc_info, tell the admin; UserError → short reply) and the polling error callback."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.error import Conflict, NetworkError, TelegramError
from telegram.ext import ContextTypes

from handlers.alerts import queue
from handlers.deps import DEPS_KEY, EXIT_OTHER_INSTANCE, App, Deps
from handlers.render.formatting import Rendered, esc
from storage.trouble import DOWN, reason
from tradebot.errors import UserError

log = logging.getLogger("handlers.errors")
CONFLICT_TEXT = ("Another process is polling Telegram with this bot token (Telegram said: Conflict: terminated by "
                 "other getUpdates request). Stopping this instance; run only one bot per token.")


def request_stop(app: App, deps: Deps | None, code: int) -> None:
    """Stop the bot with ``code``: run_polling's stop_running, or the event demo/tests wait on."""
    if deps is not None:
        deps.exit_code = deps.exit_code or code
        deps.stopping.set()
        if deps.managed_loop:
            return
    app.stop_running()


def polling_error_callback(app: App) -> Any:
    """error_callback for start_polling: a Conflict stops the bot; other errors are retried by PTB."""

    def on_error(exc: Exception) -> None:
        deps = app.bot_data.get(DEPS_KEY)
        if isinstance(exc, Conflict):
            log.critical(CONFLICT_TEXT)
            request_stop(app, deps, EXIT_OTHER_INSTANCE)
            return
        if deps is not None and deps.poll is not None:
            deps.poll.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("polling error (PTB retries): %s", exc)

    return on_error


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Registered with add_error_handler: the only place handler/job exceptions end up."""
    exc = context.error
    deps = context.bot_data.get(DEPS_KEY)
    if isinstance(exc, UserError):
        if isinstance(update, Update) and update.effective_message is not None:
            await update.effective_message.reply_text(f"⚠️ {exc}")  # cut (if ever needed) by handlers/outgoing.py
        return
    if isinstance(exc, Conflict):
        log.critical(CONFLICT_TEXT)
        request_stop(context.application, deps, EXIT_OTHER_INSTANCE)
        return
    if isinstance(exc, DOWN):  # the journal alarm has told the owner directly and logged the outage once
        log.debug("the journal cannot be written while handling %s: %s", _what(update), reason(exc))
        await _tell_user(update, f"⚠️ The journal cannot be written right now ({reason(exc)[:50]}): not recorded; "
                                 "trades, settings and buttons need it. The owner was told what to check.")
        return
    log.error("error while handling %s", _what(update), exc_info=exc)
    if isinstance(exc, NetworkError) and not isinstance(update, Update):
        return  # transient Telegram trouble in a job: the outbox retries, no need to alert
    if isinstance(deps, Deps) and deps.admin_chat is not None:
        try:
            await queue(deps, Rendered(f"⚠️ Error while handling {esc(_what(update))}: {esc(type(exc).__name__)}: "
                                       f"{esc(str(exc)[:300])}"), "error", [deps.admin_chat])
        except DOWN:
            pass  # the report cannot be stored: the journal alarm tells the owner; the error is logged above
    await _tell_user(update, "Something went wrong; the error was logged.")


async def _tell_user(update: object, text: str) -> None:
    """A reply to the message, or the answer to the button tap (its spinner stops; an alert shows the words)."""
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text)
    except TelegramError:  # already answered, too old, or Telegram is unreachable: nothing more to do
        pass


def _what(update: object) -> str:
    if isinstance(update, Update):
        if update.callback_query is not None:
            return f"button {update.callback_query.data!r}"
        if update.effective_message is not None and update.effective_message.text:
            return repr(update.effective_message.text.split()[0][:40])
        return f"update {update.update_id}"
    return "a background job"
