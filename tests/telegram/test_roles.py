"""Roles by user id: in a listed group every member may read and only owners may act; viewers read in their private
chat; every command and button declares what it needs; /help shows each user what they may do; a refusal is one
line and is audited. Everything through the real Application over the offline Bot API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.buttons import NEEDS
from handlers.commands import COMMANDS
from handlers.roles import REFUSED_BUTTON, Access, Role
from proving.telegram.types import SentMessage
from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import CHAT, Rig
from tests.telegram.test_buttons import conf_id, open_size, status
from tradebot.intents import ButtonAction

GROUP, MEMBER, VIEWER, OWNER2, STRANGER = -100777, 555, 777, 999, 888
READ_ONLY = {"start", "help", "status", "positions", "pnl", "balance", "trades", "signal", "chart", "performance"}


@pytest.fixture
async def group(rig: Rig) -> Rig:
    """The rig's private chat (CHAT: an owner, listed in TELEGRAM_ALLOWED_CHAT_IDS) plus a listed group."""
    rig.deps.cfg.env.TELEGRAM_ALLOWED_CHAT_IDS.append(GROUP)
    return rig


async def say(rig: Rig, chat: int, text: str, user: int) -> SentMessage:
    """``user`` writes ``text`` in ``chat``; the bot's first answer there."""
    before = {m.message_id for m in rig.hub.sent(chat)}
    rig.hub.push_message(chat, text, user_id=user, chat_type="private" if chat > 0 else "supergroup")
    return await rig.hub.wait_for(lambda m: m.chat_id == chat and m.message_id not in before)


async def tap(rig: Rig, message: SentMessage, label: str, user: int) -> str:
    n = len(rig.hub.answers)
    rig.hub.push_callback(message.chat_id, rig.hub.button(message, label), message.message_id, user_id=user)
    await rig._answered(n)
    return rig.hub.answers[-1].text or ""


async def refusals(rig: Rig, action: str) -> list:
    return [a for a in await rig.audited(allowed=False) if a.action == action]


async def test_a_members_risk_10_in_the_group_is_refused_and_audited(group: Rig) -> None:
    """The issue's probe: a member's /risk 10 answered "Risk per trade set to 10%"."""
    risk = group.deps.engine.settings.risk.risk_pct
    reply = (await say(group, GROUP, "/risk 10", MEMBER)).plain
    assert reply == "⛔ /risk is for the bot's owners; you have read-only access here. /help lists what you may do."
    assert group.deps.engine.settings.risk.risk_pct == risk
    [row] = await refusals(group, "/risk")
    assert (row.user_id, row.chat_id, row.args, row.result) == (MEMBER, GROUP, "10", "refused: needs owner, is viewer")
    for line in ("/mode auto", "/stop", "/close BTC", f"/backtest {SYMBOL} 2"):
        assert (await say(group, GROUP, line, MEMBER)).plain.startswith(f"⛔ {line.split()[0]} is for the bot's owners")
    assert group.deps.engine.settings.mode == "confirm" and not group.deps.engine.settings.paused
    assert "Risk per trade set to 2%" in (await say(group, GROUP, "/risk 2", CHAT)).plain  # the owner, in the group
    assert group.deps.engine.settings.risk.risk_pct == Decimal(2)


async def test_a_members_yes_close_all_is_refused_and_the_owner_can_still_use_it(group: Rig) -> None:
    """The issue's probe: a member's "Yes, close all" closed everything."""
    card = await group.card()
    await group.tap(card, "Approve")
    assert open_size(group) > 0
    ask = await say(group, GROUP, "/stop all", CHAT)
    assert await tap(group, ask, "⚠️ Yes, close all", MEMBER) == REFUSED_BUTTON and group.hub.answers[-1].show_alert
    assert open_size(group) > 0 and not group.deps.engine.settings.paused and ask.buttons  # the card is untouched
    assert await tap(group, ask, "Cancel", MEMBER) == REFUSED_BUTTON and ask.buttons
    [row] = await refusals(group, "sa")
    assert row.user_id == MEMBER and row.update_kind == "callback" and row.result == "refused: needs owner, is viewer"
    await tap(group, ask, "⚠️ Yes, close all", CHAT)
    assert open_size(group) == 0 and group.deps.engine.settings.paused and "Done (@user42)" in ask.plain


async def test_a_member_cannot_approve_a_card_the_owner_can(group: Rig) -> None:
    card = await group.card()
    copy = await group.hub.wait_for(lambda m: m.chat_id == GROUP and bool(m.buttons))
    assert await tap(group, copy, "Approve", MEMBER) == REFUSED_BUTTON
    assert await tap(group, copy, "Reject", MEMBER) == REFUSED_BUTTON
    assert status(group, conf_id(card)) == "pending" and group.orders() == [] and copy.buttons
    await tap(group, copy, "Approve", CHAT)
    assert status(group, conf_id(card)) == "executed" and len(group.orders()) == 1


async def test_members_read_and_help_shows_each_user_what_they_may_do(group: Rig) -> None:
    for line in ("/status", "/positions", "/balance", "/pnl", "/trades 3"):
        reply = (await say(group, GROUP, line, MEMBER)).plain
        assert "⛔" not in reply, (line, reply)
    member = (await say(group, GROUP, "/help", MEMBER)).plain
    assert "read-only access here" in member
    assert {c.name for c in COMMANDS if f"/{c.name}" in member.split("Commands", 1)[1]} == READ_ONLY
    owner = (await say(group, GROUP, "/start", CHAT)).plain
    assert "You are an owner: you may trade and change settings." in owner
    assert all(f"/{c.name}" in owner for c in COMMANDS)


async def test_a_viewer_reads_in_a_private_chat_and_strangers_stay_ignored(rig: Rig) -> None:
    env = rig.deps.cfg.env
    env.TELEGRAM_VIEWER_IDS.append(VIEWER)  # not in TELEGRAM_ALLOWED_CHAT_IDS: answered, but gets no alerts
    assert "Equity" in (await say(rig, VIEWER, "/balance", VIEWER)).plain
    assert (await say(rig, VIEWER, "/mode auto", VIEWER)).plain.startswith("⛔ /mode is for the bot's owners")
    assert rig.deps.engine.settings.mode == "confirm" and VIEWER not in rig.deps.chats
    sent = len(rig.hub.sent())
    rig.hub.push_message(STRANGER, "/status", user_id=STRANGER)
    rig.hub.push_message(GROUP, "/status", user_id=VIEWER, chat_type="supergroup")  # a group that is not listed
    await rig.hub.wait_idle(quiet=0.3)
    assert len(rig.hub.sent()) == sent
    assert {a.user_id for a in await rig.audited(2, allowed=False) if a.result == "unauthorised"} == {STRANGER, VIEWER}


async def test_owner_ids_act_in_their_private_chat_and_in_groups(group: Rig) -> None:
    group.deps.cfg.env.TELEGRAM_OWNER_IDS.append(OWNER2)
    assert "Risk per trade set to 3%" in (await say(group, OWNER2, "/risk 3", OWNER2)).plain
    assert "Mode set to auto" in (await say(group, GROUP, "/mode auto", OWNER2)).plain
    group.deps.cfg.env.TELEGRAM_VIEWER_IDS.append(CHAT)  # a listed private chat can be made a viewer
    assert (await say(group, CHAT, "/risk 1", CHAT)).plain.startswith("⛔ /risk")


async def test_group_chatter_and_other_bots_commands_get_no_answer(group: Rig) -> None:
    await group.hub.wait_idle(quiet=0.2)
    sent = len(group.hub.sent(GROUP))
    for text in ("hello everyone", "/status@other_bot", "/nope@other_bot"):
        group.hub.push_message(GROUP, text, user_id=MEMBER, chat_type="supergroup")
    await group.hub.wait_idle(quiet=0.3)
    assert len(group.hub.sent(GROUP)) == sent
    assert "Unknown command /nope" in (await say(group, GROUP, "/nope", MEMBER)).plain
    assert "Unknown command /nope@demo_bot" in (await say(group, GROUP, "/nope@demo_bot", MEMBER)).plain


def test_every_command_and_button_declares_its_role() -> None:
    assert {c.name for c in COMMANDS if c.needs is Role.VIEWER} == READ_ONLY
    assert all(c.needs is Role.OWNER for c in COMMANDS if c.name not in READ_ONLY)
    assert set(NEEDS) == set(ButtonAction) and set(NEEDS.values()) == {Role.OWNER}


ids = st.integers(1, 50)


@given(chats=st.frozensets(st.integers(-60, 50)), owners=st.frozensets(ids), viewers=st.frozensets(ids),
       chat=st.integers(-60, 50), user=ids)
def test_role_rules(chats: frozenset[int], owners: frozenset[int], viewers: frozenset[int], chat: int,
                    user: int) -> None:
    access = Access(chats, owners, viewers)
    private = chat > 0
    role = access.role_in(chat, private, user)
    if private and chat != user:
        assert role is None  # a private chat belongs to its one user
    elif private:
        assert (role is not None) == (chat in chats or user in owners | viewers)
    else:
        assert (role is not None) == (chat in chats)  # a group is answered only when listed, whoever writes
    if role is not None:
        assert (role is Role.OWNER) == (user in owners)
