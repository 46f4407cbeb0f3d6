"""What every chat handler needs of an update: who asked, from which chat, and replying (HTML, split, buttons)."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode

from handlers.buttons import markup
from handlers.render.formatting import split_message
from tradebot.intents import Buttons


def who(update: Update) -> str:
    user = update.effective_user
    return f"@{user.username}" if user and user.username else str(user.id if user else "?")


def origin(update: Update) -> str | None:
    """The asking chat as the core's opaque origin: it gets the reply, so the broadcast alert skips it."""
    return str(update.effective_chat.id) if update.effective_chat else None


def chat_of(update: Update) -> int | None:
    """The asking chat's id: an ask's buttons work there only."""
    return update.effective_chat.id if update.effective_chat else None


async def reply(update: Update, text: str, buttons: Buttons | None = None) -> None:
    """Send ``text`` (HTML) as one or more messages; buttons go on the last one."""
    message = update.effective_message
    assert message is not None
    parts = split_message(text)
    for i, part in enumerate(parts):
        await message.reply_text(part, parse_mode=ParseMode.HTML,
                                 reply_markup=markup(buttons or []) if i == len(parts) - 1 else None)
