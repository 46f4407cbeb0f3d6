"""Button taps: the data is decoded by handlers/buttons.py into a typed intent, then handled through the service."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from handlers.alerts import queue_card_edits
from handlers.buttons import decode
from handlers.commands import origin, who
from handlers.deps import Deps, get_deps
from handlers.optimize import optimize_button
from tradebot.formatting import card_result, esc
from tradebot.intents import UNKNOWN_DECISIONS, Button, ButtonAction
from tradebot.outcome import Outcome
from tradebot.states import DECIDED, OutcomeStatus

log = logging.getLogger("handlers.callbacks")
EXPIRED_BUTTON = "This button has expired or was already used."


async def _answer(query: CallbackQuery, text: str, alert: bool = False) -> None:
    try:
        await query.answer(text[:200], show_alert=alert)
    except BadRequest as exc:  # too old to answer (e.g. taps queued while the bot was down)
        log.info("could not answer callback: %s", exc)


async def _edit(query: CallbackQuery, html: str) -> None:
    try:
        await query.edit_message_text(html, parse_mode=ParseMode.HTML)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


def _card_html(query: CallbackQuery) -> str:
    message = query.message
    return message.text_html if isinstance(message, Message) and message.text else ""


async def _decide(query: CallbackQuery, deps: Deps, conf_id: str, user_id: int, by: str, approve: bool) -> str:
    out: Outcome = await (deps.service.approve(conf_id, user_id) if approve else deps.service.reject(conf_id, user_id))
    chat_id = query.message.chat.id if query.message else None
    if out.status in DECIDED:
        await _answer(query, out.text)
        await _edit(query, card_result(_card_html(query), out.status, out.text, by))
        await queue_card_edits(deps, conf_id, out.status, out.text, by, skip_chat=chat_id)
    else:  # already / unknown: someone (or an earlier tap) decided; just say so and drop stale buttons
        await _answer(query, out.text, alert=True)
        if query.message is not None and getattr(query.message, "reply_markup", None):
            await _edit(query, card_result(_card_html(query), OutcomeStatus.ALREADY, out.text))
    return f"{out.status}: {out.text}"


async def _token_action(update: Update, query: CallbackQuery, deps: Deps, button: Button, by: str) -> str:
    token = button.ref
    if button.action is ButtonAction.CANCEL:
        payload = await deps.service.take_token(token, None)
        await _answer(query, "Cancelled.")
        await _edit(query, f"{_card_html(query)}\n\n<i>Cancelled{' by ' + esc(by) if by else ''}. Nothing was done.</i>")
        return "cancelled" if payload else "cancel (stale)"
    payload = await deps.service.take_token(token, button.action)
    if payload is None:
        await _answer(query, EXPIRED_BUTTON, alert=True)
        await _edit(query, f"{_card_html(query)}\n\n<i>{esc(EXPIRED_BUTTON)}</i>")
        return "stale token"
    await _answer(query, "Working on it…")
    out = await (deps.service.stop_all(by, origin(update)) if button.action is ButtonAction.STOP_ALL
                 else deps.service.close(payload["symbol"]))
    await _edit(query, f"{_card_html(query)}\n\n<b>Done</b> ({esc(by)}):\n{esc(out.text)}")
    return f"{out.status}: {out.text}"


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    deps = get_deps(context)
    data = query.data or ""
    button = decode(data)
    by = who(update)
    result = "unknown button"
    try:
        if button is None:
            await _answer(query, "Unknown button.")
        elif button.action in (ButtonAction.APPROVE, ButtonAction.REJECT):
            result = await _decide(query, deps, button.ref, query.from_user.id, by,
                                   approve=button.action is ButtonAction.APPROVE)
        elif button.action in (ButtonAction.STOP_ALL, ButtonAction.CLOSE, ButtonAction.CANCEL):
            result = await _token_action(update, query, deps, button, by)
        elif button.action in (ButtonAction.OPTIMIZE_SHOW, ButtonAction.OPTIMIZE_APPLY):
            result = await optimize_button(query, deps, button, by)
        else:  # an unknown position: adopt / close / ignore
            await _answer(query, "Working on it…")
            out = await deps.service.decide_unknown(button.ref, UNKNOWN_DECISIONS[button.action])
            await _edit(query, f"{_card_html(query)}\n\n<b>{esc(by)}</b>: {esc(out.text)}")
            result = out.text
    finally:
        await deps.service.audit(kind="callback", action=data.partition(":")[0] or "?", allowed=True,
                           user_id=query.from_user.id, chat_id=query.message.chat.id if query.message else None,
                           args=data, result=result)
