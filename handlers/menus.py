"""The command menu each person sees (setMyCommands by scope): owners every command, everyone else the read-only ones.

Telegram picks the most specific menu for a user in a chat: in a private chat the chat's own, in a group the
member's own, then the group's, then the default. So: the default and every listed group get the read-only
commands; each owner gets every command in their private chat and, as a member, in each listed group; a viewer's
private chat gets the read-only ones. (The menu only shows commands: every command still checks the role itself.)
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeChatMember, BotCommandScopeDefault
from telegram.error import TelegramError

from handlers.commands import COMMANDS
from handlers.roles import Access, Role

log = logging.getLogger("handlers.menus")


def menu(role: Role) -> list[BotCommand]:
    """The commands ``role`` may use, as the menu lists them."""
    return [BotCommand(c.name, c.help[:256]) for c in COMMANDS if role >= c.needs]


def scopes(access: Access) -> list[tuple[BotCommandScopeDefault | BotCommandScopeChat | BotCommandScopeChatMember,
                                         Role]]:
    """(scope, whose menu) for every scope the bot sets, from the least specific on."""
    out: list[tuple[BotCommandScopeDefault | BotCommandScopeChat | BotCommandScopeChatMember, Role]] = [
        (BotCommandScopeDefault(), Role.VIEWER)]
    groups = sorted(c for c in access.chats if c < 0)  # a private chat's id is its user's (positive)
    people = sorted({c for c in access.chats if c > 0} | access.owners | access.viewers)
    for chat in groups:
        out.append((BotCommandScopeChat(chat), Role.VIEWER))
        out += [(BotCommandScopeChatMember(chat, owner), Role.OWNER) for owner in sorted(access.owners)]
    out += [(BotCommandScopeChat(user), Role.OWNER if user in access.owners else Role.VIEWER) for user in people]
    return out


async def set_menus(bot: Bot, access: Access) -> int:
    """Set every scope's menu; returns how many were set (a scope Telegram refuses, e.g. an owner who is not a
    member of a group, is logged and skipped)."""
    done = 0
    for scope, role in scopes(access):
        try:
            await bot.set_my_commands(menu(role), scope=scope)
            done += 1
        except TelegramError as exc:
            log.warning("could not set the %s command menu for %s: %s", role.name.lower(), scope.to_dict(), exc)
    return done
