"""Who may do what, by Telegram user id: owners trade and change settings; everyone else the bot answers may read.

The bot answers in the chats of TELEGRAM_ALLOWED_CHAT_IDS and in the private chats of TELEGRAM_OWNER_IDS and
TELEGRAM_VIEWER_IDS; everything else is ignored (``role`` is None). There, an owner (``EnvSettings.owner_ids``:
TELEGRAM_OWNER_IDS plus the private chats listed in TELEGRAM_ALLOWED_CHAT_IDS) gets ``Role.OWNER``, anyone else
``Role.VIEWER``: in a listed group every member may read, only owners may act. Every command (``Command.needs``)
and every button (``handlers/buttons.py`` NEEDS) declares the role it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from tradebot.settings.config import EnvSettings

if TYPE_CHECKING:
    from telegram import Update


class Role(IntEnum):
    """Ordered: a role may do what every lower role may."""

    VIEWER = 1  # read-only commands: views, signals, charts, backtests, /help
    OWNER = 2  # trading, closing, pausing, settings, every button


ROLE_WORDS = {Role.OWNER: "You are an <b>owner</b>: you may trade and change settings.",
              Role.VIEWER: "You have <b>read-only</b> access here: trading and settings are for the bot's owners."}
REFUSED_BUTTON = "⛔ Only the bot's owners may use this button; you have read-only access here."


def refused_command(name: str) -> str:
    """The one-line answer to a command the asker's role does not allow."""
    return f"⛔ /{name} is for the bot's owners; you have read-only access here. /help lists what you may do."


@dataclass(frozen=True)
class Access:
    """The configured chats and people, and the role of whoever sent an update."""

    chats: frozenset[int]  # TELEGRAM_ALLOWED_CHAT_IDS: the chats the bot posts to and answers in
    owners: frozenset[int]
    viewers: frozenset[int]

    @classmethod
    def of(cls, env: EnvSettings) -> Access:
        return cls(frozenset(env.TELEGRAM_ALLOWED_CHAT_IDS), env.owner_ids, frozenset(env.TELEGRAM_VIEWER_IDS))

    def role_in(self, chat_id: int, private: bool, user_id: int | None) -> Role | None:
        """The role of ``user_id`` in chat ``chat_id``; None when the bot does not answer there."""
        if user_id is None:
            return None
        if private:  # a private chat's id is its user's id
            listed = chat_id == user_id and (chat_id in self.chats or user_id in self.owners | self.viewers)
        else:
            listed = chat_id in self.chats
        if not listed:
            return None
        return Role.OWNER if user_id in self.owners else Role.VIEWER

    def role(self, update: Update) -> Role | None:
        """The sender's role for a python-telegram-bot Update (None: ignore it; channels never get an answer)."""
        if update.channel_post is not None or update.edited_channel_post is not None:
            return None
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return None
        return self.role_in(chat.id, chat.type == "private", user.id if user is not None else None)
