"""Per-role command menus (issue 20): the menu Telegram shows each person in each chat (setMyCommands by scope,
resolved by the offline Bot API as Telegram documents it) lists every command for an owner and only the read-only
ones for everyone else, in private chats and in a listed group alike."""

from __future__ import annotations

from telegram import Bot

from handlers.commands import COMMANDS
from handlers.menus import set_menus
from handlers.roles import Access, Role
from proving.telegram.hub import OfflineTelegram
from tests.telegram.conftest import CHAT, Rig
from tests.telegram.test_roles import GROUP, MEMBER, OWNER2, READ_ONLY, STRANGER, VIEWER

EVERY = [c.name for c in COMMANDS]
READ = [c.name for c in COMMANDS if c.needs <= Role.VIEWER]


async def menus_for(access: Access) -> OfflineTelegram:
    hub = OfflineTelegram()
    bot = Bot(f"{hub.bot_id}:OFFLINE", request=hub.request())
    await bot.initialize()
    try:
        assert await set_menus(bot, access) == 1 + 3 + 3  # the default, the group and its 2 owners, 3 people
    finally:
        await bot.shutdown()
    return hub


async def test_owners_see_every_command_and_everyone_else_the_read_only_ones() -> None:
    assert set(READ) == READ_ONLY and len(EVERY) > len(READ)  # (the roles tests' list of read-only commands)
    hub = await menus_for(Access(chats=frozenset({CHAT, GROUP}), owners=frozenset({CHAT, OWNER2}),
                                 viewers=frozenset({VIEWER})))
    assert hub.menu(CHAT, CHAT) == EVERY  # an owner's private chat
    assert hub.menu(OWNER2, OWNER2) == EVERY  # an owner by TELEGRAM_OWNER_IDS, in their private chat
    assert hub.menu(VIEWER, VIEWER) == READ  # a viewer's private chat
    assert hub.menu(GROUP, CHAT) == EVERY and hub.menu(GROUP, OWNER2) == EVERY  # owners in the group
    assert hub.menu(GROUP, MEMBER) == READ and hub.menu(GROUP, VIEWER) == READ  # every other member there
    assert hub.menu(STRANGER, STRANGER) == READ and hub.menu(-5, STRANGER) == READ  # the default: never more


async def test_the_running_bot_sets_the_menus_at_start(rig: Rig) -> None:
    """The Application's start (post_init) sets them: the rig's chat is an owner's private chat."""
    assert rig.hub.menu(CHAT, CHAT) == EVERY
    assert [c["command"] for c in rig.hub.commands] == READ  # the default scope
