"""Telegram layer: register(app) adds the auth gate, the command table, buttons and the error handler."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telegram.ext import ContextTypes

    from handlers.deps import App

log = logging.getLogger("handlers")


def update_kind(update: object) -> str:
    for kind in ("callback_query", "edited_message", "channel_post", "edited_channel_post", "message"):
        if getattr(update, kind, None) is not None:
            return {"callback_query": "callback", "edited_message": "edited"}.get(kind, kind)[:16]
    return "other"


def register(app: App) -> None:
    """Handlers in order: group -1 gate (ApplicationHandlerStop for strangers), commands, buttons, fallback.

    Who may do what is read from the config (``Deps.access``) at each update: handlers/roles.py."""
    from telegram import Update
    from telegram.ext import (
        ApplicationHandlerStop,
        CallbackQueryHandler,
        CommandHandler,
        MessageHandler,
        TypeHandler,
        filters,
    )

    from handlers.callbacks import on_button
    from handlers.commands import COMMANDS, make_handler, unknown
    from handlers.deps import get_deps
    from handlers.errors import on_error

    async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            deps = get_deps(context)
        except RuntimeError:  # before post_init: nothing may run yet
            raise ApplicationHandlerStop from None
        if deps.access.role(update) is not None:
            return
        chat, user = update.effective_chat, update.effective_user
        kind = update_kind(update)
        text = update.callback_query.data if update.callback_query else (
            update.effective_message.text if update.effective_message else None)
        log.warning("ignored %s from user %s in chat %s (not in TELEGRAM_ALLOWED_CHAT_IDS, TELEGRAM_OWNER_IDS or "
                    "TELEGRAM_VIEWER_IDS)", kind, user.id if user else None, chat.id if chat else None)
        await deps.service.audit(kind=kind, action="ignored", allowed=False, user_id=user.id if user else None,
                                 chat_id=chat.id if chat else None, args=(text or "")[:200], result="unauthorised")
        raise ApplicationHandlerStop

    messages = filters.UpdateType.MESSAGE & ~filters.FORWARDED  # the gate has let only allowed chats through
    app.add_handler(TypeHandler(Update, gate), group=-1)
    for command in COMMANDS:
        app.add_handler(CommandHandler(command.name, make_handler(command), filters=messages))
    # a tap may wait for a maker-first entry (up to [execution] reprice_window_s): never hold /stop, /close or
    # another tap behind it (each card is decided once by its own claim, whatever runs at the same time)
    app.add_handler(CallbackQueryHandler(on_button, block=False))
    app.add_handler(MessageHandler(messages & (filters.COMMAND | filters.TEXT), unknown))
    app.add_error_handler(on_error)
