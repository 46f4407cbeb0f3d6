"""Alert delivery: outbox retries on flood control / network faults, survives a restart, splits at 4096."""

from __future__ import annotations

from sqlmodel import select

from handlers.alerts import queue
from handlers.render.formatting import Rendered
from proving.telegram.hub import OfflineTelegram
from storage.db import session_scope
from storage.models import OutboxMessage
from tests.telegram.conftest import CHAT, Rig, stop
from tradebot.events import Lifecycle
from tradebot.intents import Button, ButtonAction


def outbox(rig: Rig) -> list[OutboxMessage]:
    with session_scope(rig.deps.journal.db) as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


async def test_retry_after_is_retried_later(rig: Rig) -> None:
    rig.hub.fail_next("sendMessage", "retry_after", retry_after=0.3)
    await rig.deps.engine.bus.emit(Lifecycle("flood test"))
    msg = await rig.hub.wait_for(lambda m: "flood test" in m.plain)
    await rig.delivered()  # the journal marks it sent just after Telegram took it
    row = [r for r in outbox(rig) if "flood test" in r.text][0]
    assert row.status == "sent" and row.attempts == 2 and "flood control" in row.last_error
    assert row.sent_message_id == msg.message_id
    assert len([c for c in rig.hub.calls_for("sendMessage") if "flood test" in c["text"]]) == 2


async def test_network_error_is_retried(rig: Rig) -> None:
    rig.hub.fail_next("sendMessage", "network")
    await rig.deps.engine.bus.emit(Lifecycle("network test"))
    await rig.hub.wait_for(lambda m: "network test" in m.plain, timeout=6)
    await rig.delivered()  # the journal marks it sent just after Telegram took it
    row = [r for r in outbox(rig) if "network test" in r.text][0]
    assert row.status == "sent" and row.attempts == 2 and "NetworkError" in row.last_error


async def test_trading_does_not_wait_for_telegram(rig: Rig) -> None:
    rig.hub.fail_next("*", "network", n=50)
    card_status = await rig.deps.engine.tick("BTCUSDT")  # emits a card while Telegram is down
    assert card_status.ok
    assert any(r.kind == "card" and r.status == "pending" for r in outbox(rig))


async def test_delivered_after_restart(make_rig) -> None:
    first = await make_rig()
    first.hub.fail_next("*", "network", n=1000)
    await first.deps.engine.bus.emit(Lifecycle("survives restart"))
    await first.hub.wait_idle(quiet=0.2)
    assert not [m for m in first.hub.sent() if "survives" in m.plain]
    sim = first.sim
    await stop(first)
    hub = OfflineTelegram()  # a fresh Telegram connection, same journal
    await make_rig(hub=hub, sim=sim)
    await hub.wait_for(lambda m: "survives restart" in m.plain)


async def test_long_alert_is_split_at_4096(rig: Rig) -> None:
    lines = [f"line {i:04d} " + "x" * 90 for i in range(120)]  # ~12,000 characters
    await queue(rig.deps, Rendered("\n".join(lines), [[("OK", Button(ButtonAction.CANCEL, "none"))]]), "test", [CHAT])
    await rig.hub.wait_for(lambda m: "line 0119" in m.plain)
    parts = [m for m in rig.hub.sent(CHAT) if "line 0" in m.plain]
    assert len(parts) == 3 and all(len(m.text) <= 4096 for m in parts)
    assert "\n".join(m.text for m in parts) == "\n".join(lines)
    assert [bool(m.buttons) for m in parts] == [False, False, True]


async def test_unparseable_markup_is_delivered_as_plain_text(rig: Rig) -> None:
    """An alert whose HTML Telegram refuses is still delivered (as plain words), not dropped."""
    await queue(rig.deps, Rendered("price <b>went < 5 &amp; back</b>"), "error")
    msg = await rig.hub.wait_for(lambda m: "went" in m.plain, timeout=6)
    assert msg.plain == "price went < 5 & back" and msg.parse_mode is None
    await rig.delivered()  # the journal marks it sent just after Telegram took it
    row = [r for r in outbox(rig) if "went" in r.text][0]
    assert row.status == "sent"
