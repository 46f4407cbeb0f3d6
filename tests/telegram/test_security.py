"""Strangers get nothing: every update type from an id outside TELEGRAM_ALLOWED_CHAT_IDS is dropped and audited."""

from __future__ import annotations

import logging

import pytest

from tests.telegram.conftest import CHAT, STRANGER, Rig
from tests.telegram.test_buttons import conf_id, status


async def _nothing_more(rig: Rig, sent_before: int, answers_before: int) -> None:
    await rig.hub.wait_idle(quiet=0.2)
    assert len(rig.hub.sent()) == sent_before and len(rig.hub.answers) == answers_before


@pytest.mark.parametrize("push", ["message", "command", "edited", "channel_post", "group_member"])
async def test_stranger_updates_are_ignored_and_audited(rig: Rig, push: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    hub = rig.hub
    await hub.wait_idle(quiet=0.2)
    sent, answers = len(hub.sent()), len(hub.answers)
    caplog.set_level(logging.WARNING, logger="handlers")
    if push == "message":
        hub.push_message(STRANGER, "hello")
    elif push == "command":
        hub.push_message(STRANGER, "/positions")
    elif push == "edited":
        first = hub.push_message(STRANGER, "/status")["message"]["message_id"]
        await hub.wait_idle(quiet=0.1)
        hub.push_edited_message(STRANGER, first, "/balance")
    elif push == "channel_post":
        hub.push_channel_post(-100123, "/status")
    else:  # an allowed user id but inside a group that is not allowed
        hub.push_message(-100777, "/balance", user_id=CHAT, chat_type="supergroup")
    await _nothing_more(rig, sent, answers)
    rows = await rig.audited(allowed=False)
    assert all(r.result == "unauthorised" for r in rows)
    assert not [r for r in rig.audit(allowed=True)]
    assert "not in TELEGRAM_ALLOWED_CHAT_IDS" in caplog.text


async def test_stranger_callback_with_a_valid_confirmation_id_does_nothing(rig: Rig) -> None:
    card = await rig.card()
    cid = conf_id(card)
    await rig.hub.wait_idle(quiet=0.2)
    # Forge a callback whose message sits in the stranger's chat but carries the real confirmation id.
    msg = dict(card.raw, chat={"id": STRANGER, "type": "private", "first_name": "x"})
    sent, answers = len(rig.hub.sent()), len(rig.hub.answers)
    rig.hub.push_update({"callback_query": {"id": "evil1", "from": {"id": STRANGER, "is_bot": False,
                                                                    "first_name": "E"},
                                            "chat_instance": "x", "data": f"ap:{cid}", "message": msg}})
    await _nothing_more(rig, sent, answers)
    assert status(rig, cid) == "pending" and rig.orders() == []
    [row] = [r for r in await rig.audited(allowed=False) if r.update_kind == "callback"]
    assert row.user_id == STRANGER and row.args == f"ap:{cid}"


async def test_forwarded_command_from_allowed_chat_is_not_executed(rig: Rig) -> None:
    await rig.hub.wait_idle(quiet=0.2)
    sent = len(rig.hub.sent())
    raw = rig.hub.push_update({"message": {**rig.hub._user_message(CHAT, "/stop", None),
                                           "forward_origin": {"type": "hidden_user", "date": 1,
                                                              "sender_user_name": "someone"}}})
    assert raw
    await rig.hub.wait_idle(quiet=0.2)
    assert len(rig.hub.sent()) == sent and not rig.deps.engine.settings.paused


async def test_secrets_never_in_messages(rig: Rig) -> None:
    for cmd in ("/help", "/status", "/balance"):
        await rig.send(cmd)
    await rig.hub.wait_idle(quiet=0.2)
    for m in rig.hub.sent():
        assert "OFFLINE" not in m.plain and "engine-secret" not in m.plain and "engine-key" not in m.plain
