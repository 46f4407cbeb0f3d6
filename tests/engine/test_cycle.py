"""Full trading cycles against the in-process simulator: confirm → enter → break-even → trail → stop → journal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import select

from handlers.render.formatting import render_event
from storage.db import session_scope
from storage.models import Confirmation, OrderRecord, TradeRecord
from tests.engine.conftest import SYMBOL
from tradebot.events import (
    ConfirmationNeeded,
    EntryFilled,
    ErrorEvent,
    PositionClosed,
    ProtectionTripped,
    StopMoved,
    UnknownPosition,
)
from tradebot.strategy.params import HTFParams


def trades(db) -> list[TradeRecord]:
    with session_scope(db) as s:
        rows = list(s.exec(select(TradeRecord)).all())
        for r in rows:
            s.expunge(r)
        return rows


def closed_pnl(sim) -> list[dict]:
    return sim.state()["closed_pnl"]


@pytest.fixture(params=["in-process", "http"])
def sim_url(request, sim):
    """The simulator reached in process, or over HTTP on loopback like a real exchange."""
    if request.param == "in-process":
        yield None
        return
    server = sim.serve()
    yield server.url
    server.close()


async def test_confirm_breakeven_trailing_stop_cycle(make_rig, sim, db, sim_url):
    rig = make_rig(mode="confirm", trailing="bot", url=sim_url)
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    assert card.side == "Buy" and card.sl < card.price < card.tp and card.qty > 0
    assert not rig.position()  # nothing traded before approval

    out = await rig.engine.desk.approve(card.confirmation_id, user_id=42)
    assert out.status == "executed", out.text
    [fill] = rig.events.of(EntryFilled)
    pos = rig.position()
    assert pos and Decimal(pos["stopLoss"]) == card.sl and Decimal(pos["takeProfit"]) == card.tp
    entry, atr = fill.price, card.signal.atr

    fee_cover = entry * Decimal("0.0011")  # round-trip taker fees per coin: more than 1 ATR on this data
    sim.set_price(SYMBOL, entry + atr * Decimal("0.5"))  # not far enough: nothing moves
    await rig.engine.tick(SYMBOL)
    assert not rig.events.of(StopMoved)
    last = entry + fee_cover + atr * Decimal("0.4")  # ≥ 1 ATR in favour and past the fee-covering level
    sim.set_price(SYMBOL, last)
    await rig.engine.tick(SYMBOL)
    be = rig.events.of(StopMoved)[-1]
    assert be.reason == "breakeven" and entry + fee_cover < be.new_sl < last
    assert Decimal(rig.position()["stopLoss"]) == be.new_sl

    sim.set_price(SYMBOL, entry + atr * Decimal("3.0") - Decimal("1"))  # trailing active (TP is 3 ATR away)
    await rig.engine.tick(SYMBOL)
    tr = rig.events.of(StopMoved)[-1]
    assert tr.reason == "trailing" and tr.new_sl > be.new_sl
    sl_now = Decimal(rig.position()["stopLoss"])
    assert sl_now == tr.new_sl

    sim.set_price(SYMBOL, sl_now - Decimal("50"))  # falls through the trailed stop
    assert rig.position() is None
    await rig.engine.tick(SYMBOL)
    [closed] = rig.events.of(PositionClosed)
    assert closed.reason == "trailing_stop"
    [t] = trades(db)
    [cp] = closed_pnl(sim)
    assert t.status == "closed" and t.reason == "trailing_stop"
    assert t.exit_price == Decimal(cp["avgExitPrice"]) == sl_now  # the exchange's exit price, no slippage set
    assert t.pnl == Decimal(cp["closedPnl"])  # to the cent (exactly)
    fees = t.entry_fee + t.exit_fee
    assert t.pnl == (t.exit_price - t.entry_price) * t.qty - fees
    assert [h["reason"] for h in t.stop_history] == ["initial", "breakeven", "trailing"]
    with session_scope(db) as s:
        conf = s.get(Confirmation, card.confirmation_id)
        assert conf.status == "executed" and conf.order_link_id


async def test_double_approve_places_one_order(make_rig, sim, db):
    rig = make_rig(mode="confirm")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    first = await rig.engine.desk.approve(card.confirmation_id, 1)
    second = await rig.engine.desk.approve(card.confirmation_id, 2)
    assert first.status == "executed" and second.status == "already"
    assert len([e for e in sim.state()["executions"] if e["execType"] == "Trade"]) == 1
    assert (await rig.engine.desk.reject(card.confirmation_id, 1)).status == "already"


async def test_auto_mode_exchange_trailing_stop(make_rig, sim, db):
    rig = make_rig(mode="auto", trailing="exchange", breakeven_trigger_atr=Decimal("50"))  # isolate trailing
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    pos = rig.position()
    assert Decimal(pos["trailingStop"]) == fill.trailing_distance > 0
    entry = fill.price
    best = (fill.trailing_active_price + fill.tp) / 2  # past activation, short of the TP
    sim.set_price(SYMBOL, best)
    await rig.engine.tick(SYMBOL)
    assert rig.position() is not None
    sim.set_price(SYMBOL, best - fill.trailing_distance - Decimal("1"))  # below best − distance
    await rig.engine.tick(SYMBOL)
    [closed] = rig.events.of(PositionClosed)
    assert closed.reason == "trailing_stop"
    [t] = trades(db)
    assert t.exit_price > entry and t.pnl == Decimal(closed_pnl(sim)[0]["closedPnl"])


async def test_lost_create_response_gives_exactly_one_position(make_rig, sim, db):
    rig = make_rig(mode="auto")
    sim.faults.configure(next_n={"lost_response": 1}, paths=["/v5/order/create"])
    await rig.engine.tick(SYMBOL)
    creates = [e for e in sim.state()["executions"] if e["execType"] == "Trade"]
    assert len(creates) == 1 and rig.position() is not None
    [t] = trades(db)
    assert t.status == "open" and len(rig.events.of(EntryFilled)) == 1
    with session_scope(db) as s:
        assert len(s.exec(select(OrderRecord)).all()) == 1


async def test_missing_stop_is_restored_or_position_closed(make_rig, sim, db):
    rig = make_rig(mode="auto")
    await rig.engine.tick(SYMBOL)
    assert rig.position()
    await rig.client.set_trading_stop(symbol=SYMBOL, stop_loss=Decimal("0"), take_profit=Decimal("0"))
    assert Decimal(rig.position()["stopLoss"]) == 0
    await rig.engine.tick(SYMBOL)  # stop restored within one loop
    assert Decimal(rig.position()["stopLoss"]) > 0

    await rig.client.set_trading_stop(symbol=SYMBOL, stop_loss=Decimal("0"))
    sim.faults.configure(next_n={"http5xx": 50}, paths=["/v5/position/trading-stop"])
    await rig.engine.tick(SYMBOL)  # cannot protect → closes the position and alerts
    sim.faults.clear()
    assert rig.position() is None
    assert any(e.critical for e in rig.events.of(ErrorEvent))
    await rig.engine.tick(SYMBOL)
    [t] = trades(db)
    assert t.status == "closed" and t.reason == "unprotected"  # named truly: not "closed manually" (issue 19)
    [closed] = rig.events.of(PositionClosed)
    rendered = render_event(closed)
    assert rendered is not None and "closed: no stop could be set" in rendered.text
    assert "manually" not in rendered.text


async def test_position_opened_by_hand_is_adopted_and_protected(make_rig, sim, db):
    rig = make_rig(mode="confirm")
    await rig.client.place_order(symbol=SYMBOL, side="Sell", qty=Decimal("0.01"), order_link_id="by-hand-1")
    await rig.engine.tick(SYMBOL)
    [u] = rig.events.of(UnknownPosition)
    assert u.side == "Sell" and u.default_action == "adopt"
    pos = rig.position()
    assert Decimal(pos["stopLoss"]) > Decimal(pos["avgPrice"])  # protected above a short's entry
    [t] = trades(db)
    assert t.adopted and t.side == "Sell" and t.status == "open"


async def test_restart_mid_trade_reconciles_without_duplicates(make_rig, sim, db, sim_url):
    rig = make_rig(mode="auto", url=sim_url)
    await rig.engine.tick(SYMBOL)
    assert rig.position()
    rig2 = make_rig(mode="auto", url=sim_url)  # a new process on the same journal and exchange
    await rig2.engine.tick(SYMBOL)
    assert len([e for e in sim.state()["executions"] if e["execType"] == "Trade"]) == 1
    assert len(trades(db)) == 1 and not rig2.events.of(UnknownPosition)
    sl = Decimal(rig.position()["stopLoss"])
    sim.set_price(SYMBOL, sl - Decimal("10"))
    await rig2.engine.tick(SYMBOL)
    await rig2.engine.tick(SYMBOL)
    [t] = trades(db)
    assert t.status == "closed" and t.reason == "stop_loss" and len(rig2.events.of(PositionClosed)) == 1


async def test_daily_loss_limit_trips_and_pauses_entries(make_rig, sim, db):
    rig = make_rig(mode="auto", daily_loss_limit_pct=Decimal("0.5"), risk_pct=Decimal("1"))
    await rig.engine.tick(SYMBOL)
    sl = Decimal(rig.position()["stopLoss"])
    sim.set_price(SYMBOL, sl - Decimal("10"))
    await rig.engine.tick(SYMBOL)
    assert rig.events.of(PositionClosed)[0].pnl < 0
    sim.step(1)  # a new closed bar with a BUY signal
    await rig.engine.tick(SYMBOL)
    assert rig.position() is None
    tripped = rig.events.of(ProtectionTripped)
    assert tripped and "daily loss" in tripped[0].reason
    assert "daily loss" in str(await rig.engine.gate.block(SYMBOL, rig.engine.market.now_for(SYMBOL)) or "")


async def test_pause_blocks_entries_and_survives_restart(make_rig, sim, db):
    rig = make_rig(mode="auto")
    await rig.engine.pause("test")
    await rig.engine.tick(SYMBOL)
    assert rig.position() is None
    rig2 = make_rig(mode="auto")
    await rig2.engine.settings.load()  # what start() does first
    assert rig2.engine.settings.paused
    await rig2.engine.resume()
    sim.step(1)
    await rig2.engine.tick(SYMBOL)
    assert rig2.position() is not None


async def test_tap_right_after_restart_reasks_with_fresh_numbers(make_rig, sim, db):
    rig = make_rig(mode="confirm")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    sim.set_price(SYMBOL, card.sl - Decimal("50"))  # the price crossed the card's stop: it cannot be placed as is
    fresh_process = make_rig(mode="confirm")  # no start(), no tick yet: no instruments, no signal, no ATR
    out = await fresh_process.engine.desk.approve(card.confirmation_id, user_id=7)
    assert out.status == "stale" and out.confirmation_id != card.confirmation_id, out.text
    [again] = fresh_process.events.of(ConfirmationNeeded)
    assert again.replaces == card.confirmation_id and again.signal.atr > 0
    assert again.sl < again.price < again.tp and rig.position() is None


async def test_higher_timeframe_candles_fetched_once_per_htf_candle(make_rig, sim, db):
    rig = make_rig(mode="confirm")
    params = rig.cfg.strategy.model_copy(update={"higher_timeframes": [HTFParams(interval="60", weight=1.0)]})
    rig.engine.cfg.file.strategy = params
    calls: list[str] = []
    klines = rig.client.klines

    async def counting(symbol, interval, **kw):
        calls.append(interval)
        return await klines(symbol, interval, **kw)

    rig.client.klines = counting
    await rig.engine.tick(SYMBOL)
    sim.set_price(SYMBOL, Decimal(sim.state()["prices"][SYMBOL]) + 10)  # same 5m bar, same hour
    await rig.engine.tick(SYMBOL)
    assert calls.count("5") == 2 and calls.count("60") == 1
    sim.step(12)  # an hour of 5m candles: a new hourly candle has opened
    await rig.engine.tick(SYMBOL)
    assert calls.count("60") == 2
    assert rig.engine.market.last_signals[SYMBOL].vote("htf_60") is not None
