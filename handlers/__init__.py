"""Telegram layer: register(app, cfg) adds the auth gate, the command table, buttons and the error handler."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("handlers")


def allowed_update(update: Any, allowed: frozenset[int]) -> bool:
    """Only allowed chats (a private chat's id is the user's id) may talk to the bot; channels never."""
    chat, user = update.effective_chat, update.effective_user
    if update.channel_post is not None or update.edited_channel_post is not None:
        return False
    if chat is not None and chat.id in allowed:
        return True
    return chat is not None and chat.type == "private" and user is not None and user.id in allowed


def update_kind(update: Any) -> str:
    for kind in ("callback_query", "edited_message", "channel_post", "edited_channel_post", "message"):
        if getattr(update, kind, None) is not None:
            return {"callback_query": "callback", "edited_message": "edited"}.get(kind, kind)[:16]
    return "other"


def register(app: Any, allowed_ids: list[int]) -> None:
    """Handlers in order: group -1 gate (ApplicationHandlerStop for strangers), commands, buttons, fallback."""
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

    allowed = frozenset(allowed_ids)

    async def gate(update: Update, context: Any) -> None:
        if allowed_update(update, allowed):
            return
        chat, user = update.effective_chat, update.effective_user
        kind = update_kind(update)
        text = update.callback_query.data if update.callback_query else (
            update.effective_message.text if update.effective_message else None)
        log.warning("ignored %s from user %s in chat %s (not in TELEGRAM_ALLOWED_CHAT_IDS)", kind,
                    user.id if user else None, chat.id if chat else None)
        try:
            await get_deps(context).service.audit(kind=kind, action="ignored", allowed=False,
                                            user_id=user.id if user else None, chat_id=chat.id if chat else None,
                                            args=(text or "")[:200], result="unauthorised")
        except RuntimeError:
            pass  # before post_init: nothing to audit into
        raise ApplicationHandlerStop

    auth = filters.Chat(chat_id=list(allowed)) & filters.UpdateType.MESSAGE & ~filters.FORWARDED
    app.add_handler(TypeHandler(Update, gate), group=-1)
    for command in COMMANDS:
        app.add_handler(CommandHandler(command.name, make_handler(command), filters=auth))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(auth & (filters.COMMAND | filters.TEXT), unknown))
    app.add_error_handler(on_error)
