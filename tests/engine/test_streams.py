"""The engine fed by the simulator's WebSocket streams: stop hits journaled at once and exactly once, candle closes
tick the symbol, stream outages alert once each way, and messages lost on the stream are recovered through REST."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from storage.db import session_scope
from storage.models import TradeRecord
from tests.engine.conftest import SYMBOL
from tests.waiting import until
from tradebot.bybit.stream import PRIVATE_PATH
from tradebot.events import EntryFilled, Health, PositionClosed
from tradebot.tick.streams import describe


def _trades(db: Any) -> list[TradeRecord]:
    from sqlmodel import select

    with session_scope(db) as s:
        rows = list(s.exec(select(TradeRecord)).all())
        for r in rows:
            s.expunge(r)
    return rows


async def test_stop_loss_is_journaled_from_the_stream_once(streamed, sim, db):
    rig, runner = await streamed()
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    sim.set_price(SYMBOL, fill.sl - Decimal(1))  # the exchange fires the stop; no tick runs
    await until(lambda: rig.events.of(PositionClosed), limit=3)
    [closed] = rig.events.of(PositionClosed)
    assert closed.reason == "stop_loss"
    [t] = _trades(db)
    assert t.status == "closed" and t.pnl == Decimal(sim.state()["closed_pnl"][0]["closedPnl"])
    await rig.engine.tick(SYMBOL)  # the REST reconciler sees the same close: no second alert
    await rig.engine.reconcile()
    assert len(rig.events.of(PositionClosed)) == 1
    assert [s.state for s in runner.statuses()] == ["live", "live"]
    assert "public live" in describe(runner.statuses()[0])


async def test_candle_close_ticks_the_symbol_at_once(streamed, sim):
    rig, runner = await streamed()
    assert SYMBOL not in rig.engine.last_ticks
    await asyncio.to_thread(sim.step, 1)
    await until(lambda: SYMBOL in rig.engine.last_ticks)
    assert rig.engine.last_ticks[SYMBOL].ok
    assert not runner.rest_tick_due(SYMBOL)  # healthy streams: the REST tick waits for the reconcile period


async def test_lost_messages_are_caught_by_the_rest_tick_once(streamed, sim, db):
    rig, runner = await streamed()
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    sim.stream_faults.configure(lose_prob=1.0, paths=[PRIVATE_PATH])  # every private message is lost
    sim.set_price(SYMBOL, fill.sl - Decimal(1))
    await asyncio.sleep(0.3)
    assert rig.events.of(PositionClosed) == []
    await rig.engine.tick(SYMBOL)  # the REST fallback
    await rig.engine.tick(SYMBOL)
    assert len(rig.events.of(PositionClosed)) == 1 and len(_trades(db)) == 1


async def test_connection_dropped_mid_trade_reconciles_on_reconnect_once(streamed, sim, db):
    rig, runner = await streamed()
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    sim.stream_faults.configure(next_n={"drop": 1}, paths=[PRIVATE_PATH])  # the stop's first message kills it
    sim.set_price(SYMBOL, fill.sl - Decimal(1))
    await until(lambda: runner.private.connects >= 2)  # reconnect → reconcile through REST, no tick needed
    await until(lambda: rig.events.of(PositionClosed))
    await rig.engine.tick(SYMBOL)
    assert len(rig.events.of(PositionClosed)) == 1 and len(_trades(db)) == 1


async def test_outage_longer_than_the_grace_alerts_once_down_and_once_back(streamed, sim):
    rig, runner = await streamed()
    sim.stream_faults.configure(down=True)
    await until(lambda: not runner.healthy())
    assert runner.rest_tick_due(SYMBOL)  # REST polling takes over at once
    await asyncio.sleep(0.5)
    await runner.check_health()
    await runner.check_health()
    downs = [e for e in rig.events.of(Health) if "down" in e.message]
    assert len(downs) == 2 and {"public", "private"} == {e.message.split()[1] for e in downs}
    sim.stream_faults.clear()
    await until(runner.healthy, limit=10)
    await runner.check_health()
    await runner.check_health()
    backs = [e for e in rig.events.of(Health) if "back" in e.message]
    assert len(backs) == 2


async def test_a_stream_close_is_named_by_the_stop_a_tick_moved_meanwhile(make_rig, sim, db) -> None:
    """The stream reports the close, and while its report waits a tick moves the stop to break-even: the close is
    journaled as a break-even stop (the trade is read again under the symbol's lock), not as the initial stop."""
    rig = make_rig(mode="auto", trailing="bot")
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    waiting = await rig.journal.trades.open_for(SYMBOL)  # what the stream's settle read before the move
    assert waiting is not None and waiting.id is not None
    atr = waiting.atr or Decimal(0)
    sim.set_price(SYMBOL, fill.price + fill.price * Decimal("0.0011") + atr * Decimal("0.4"))  # past the trigger
    await rig.engine.tick(SYMBOL)
    moved = Decimal(rig.position()["stopLoss"])
    assert moved > fill.price  # at break-even
    sim.set_price(SYMBOL, moved - Decimal("50"))  # the break-even stop fills on the exchange
    assert rig.position() is None
    assert await rig.engine.journal_close(SYMBOL, waiting.id)
    [closed] = rig.events.of(PositionClosed)
    assert closed.reason == "breakeven_stop"


async def test_a_reconcile_close_is_named_by_the_stop_a_tick_moved_meanwhile(make_rig, sim, monkeypatch) -> None:
    """A reconcile (a stream reconnect runs one) finds the position gone while a tick, holding the symbol, has moved
    the stop to break-even on the exchange but not yet journaled the move: the close waits for the symbol and is
    named by the stop it really hit (the long stream chaos found two break-even stops journaled as stop_loss)."""
    rig = make_rig(mode="auto", trailing="bot")
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    trade = await rig.journal.trades.open_for(SYMBOL)
    assert trade is not None
    atr = trade.atr or Decimal(0)
    sim.set_price(SYMBOL, fill.price + fill.price * Decimal("0.0011") + atr * Decimal("0.4"))  # past the trigger
    record_move = rig.journal.trades.stop_moved
    reconciling: list[asyncio.Task[None]] = []

    async def hit_before_the_move_is_journaled(trade_id: int, **kw: Any) -> None:
        sim.set_price(SYMBOL, kw["sl"] - Decimal("50"))  # the new break-even stop fills on the exchange at once
        assert rig.position() is None
        reconciling.append(asyncio.create_task(rig.engine.reconcile()))
        await asyncio.sleep(0.3)  # the reconcile runs as far as it can meanwhile
        await record_move(trade_id, **kw)

    monkeypatch.setattr(rig.journal.trades, "stop_moved", hit_before_the_move_is_journaled)
    await rig.engine.tick(SYMBOL)
    assert reconciling, "the tick did not move the stop"
    await reconciling[0]
    [closed] = rig.events.of(PositionClosed)
    assert closed.reason == "breakeven_stop"
