"""While Telegram is unreachable at start, the guard's engine still protects an open position (break-even push,
close journaled) and queues the alerts in the outbox, but opens nothing new."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from handlers.liveness import TICK
from storage.db import session_scope
from storage.journal_state import read_heartbeats
from storage.lock import new_owner, take_lock
from storage.models import Confirmation, InstanceLock, OrderRecord, OutboxMessage, SignalRecord, TradeRecord
from tests.engine.conftest import SYMBOL
from tradebot.events import ConfirmationNeeded, EntryFilled
from wiring.live import HELD, Guard


def _rows(db, model):
    with session_scope(db) as s:
        return list(s.exec(select(model)).all())


async def test_guard_manages_the_open_position_and_holds_entries(make_rig, sim, db):
    rig = make_rig(mode="confirm", trailing="bot")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    assert (await rig.engine.desk.approve(card.confirmation_id, user_id=42)).status == "executed"
    [fill] = rig.events.of(EntryFilled)
    entry, atr = fill.price, card.signal.atr

    owner = new_owner()
    assert take_lock(db, owner) is None
    guard = Guard(rig.cfg.__class__(env=rig.cfg.env.model_copy(update={"TELEGRAM_ALLOWED_CHAT_IDS": [42]}),
                                     file=rig.cfg.file, source="test", demo=True),
                  rig.journal, owner, exchange=(rig.client, sim))
    assert guard.engine.gate.held == HELD
    sim.set_price(SYMBOL, entry + entry * Decimal("0.0011") + atr * Decimal("0.4"))  # past the break-even trigger
    assert await guard.run_once()
    assert Decimal(rig.position()["stopLoss"]) > entry  # the stop moved to break-even without Telegram
    kinds = [m.kind for m in _rows(db, OutboxMessage)]
    assert "stop_moved" in kinds  # the alert waits in the outbox for Telegram
    assert TICK in read_heartbeats(db)
    with session_scope(db) as s:
        [lock] = s.exec(select(InstanceLock)).all()
        assert lock.owner == owner

    sim.set_price(SYMBOL, Decimal(rig.position()["stopLoss"]) - Decimal("50"))  # stopped out on the exchange
    entries_before = len([o for o in _rows(db, OrderRecord) if o.purpose == "entry"])
    cards_before = len(_rows(db, Confirmation))
    signals_before = len(_rows(db, SignalRecord))
    for _ in range(3):
        sim.step(1)
        assert await guard.run_once()
    [trade] = _rows(db, TradeRecord)
    assert trade.status == "closed" and trade.pnl is not None and trade.pnl > 0  # journaled with the real result
    assert len([o for o in _rows(db, OrderRecord) if o.purpose == "entry"]) == entries_before  # nothing new
    assert len(_rows(db, Confirmation)) == cards_before
    assert any(r.action == "BUY" for r in _rows(db, SignalRecord)[signals_before:])  # there was a signal to trade
    await guard.stop()
