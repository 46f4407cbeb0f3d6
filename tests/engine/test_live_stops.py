"""Stops managed in real time from the public ticker stream (issue 19, item 4): a price past the break-even trigger
moves the stop-loss on the exchange with no REST tick, trailing follows new highs, the stop never loosens, and a
symbol without an open trade costs no exchange request. On the old code only the REST tick (every
``reconcile_minutes`` while streams are healthy) ran break-even/trailing: the first two tests failed."""

from __future__ import annotations

from decimal import Decimal

from tests.engine.conftest import SYMBOL
from tests.waiting import until
from tradebot.events import EntryFilled, StopMoved


def exchange_sl(sim) -> Decimal:
    with sim.lock:
        return sim.exchange.positions[SYMBOL].stop_loss


async def entered(rig) -> EntryFilled:
    await rig.engine.tick(SYMBOL)  # the auto-mode entry (the EMA trend signals a long)
    [fill] = rig.events.of(EntryFilled)
    return fill


async def test_a_stream_price_past_the_breakeven_trigger_moves_the_stop_without_a_tick(streamed, sim):
    rig, runner = await streamed(grace_seconds=30, trailing="exchange", max_fee_share="1")
    fill = await entered(rig)
    ticks = dict(rig.engine.last_ticks)
    [trade] = await rig.journal.trades.open()
    atr, fee = trade.atr, rig.engine.gate.fee_rate(SYMBOL)
    be = fill.price * (1 + fee) / (1 - fee) + atr * rig.engine.settings.risk.breakeven_offset_atr
    target = max(fill.price + atr * rig.engine.settings.risk.breakeven_trigger_atr, be) + 10 * Decimal("0.1")
    sim.set_price(SYMBOL, target)  # the ticker stream brings it; no REST tick runs
    await until(lambda: rig.events.of(StopMoved), limit=5)
    [moved] = rig.events.of(StopMoved)
    assert moved.reason == "breakeven" and exchange_sl(sim) == moved.new_sl > fill.sl and moved.new_sl >= be
    assert rig.engine.last_ticks == ticks  # no tick ran: the stream did it
    assert runner.live.moves == 1


async def test_bot_trailing_follows_stream_highs_and_never_loosens(streamed, sim):
    rig, runner = await streamed(grace_seconds=30, trailing="bot", max_fee_share="1", tp_atr="10")  # TP out of the way
    fill = await entered(rig)
    [trade] = await rig.journal.trades.open()
    atr = trade.atr
    for k in (2, 3, 4):  # new highs: 2, 3, 4 ATR above the entry
        sim.set_price(SYMBOL, fill.price + atr * k)
        await until(lambda k=k: exchange_sl(sim) >= fill.price + atr * (k - 1) - 1, limit=5)
    high_sl = exchange_sl(sim)
    sim.set_price(SYMBOL, fill.price + atr * Decimal("3.5"))  # a pull-back: the stop stays
    await until(lambda: runner._jobs.get((SYMBOL, "manage")) is None or runner._jobs[(SYMBOL, "manage")].task.done())
    assert exchange_sl(sim) == high_sl
    assert [e.reason for e in rig.events.of(StopMoved)][-1] == "trailing"
    sls = [e.new_sl for e in rig.events.of(StopMoved)]
    assert sls == sorted(sls)  # only ever up for a long


async def test_prices_without_an_open_trade_ask_the_exchange_nothing(streamed, sim):
    rig, runner = await streamed(grace_seconds=30)
    before = runner.events_seen
    sim.set_price(SYMBOL, Decimal("51000"))
    await until(lambda: runner.events_seen > before)
    await until(lambda: runner._jobs.get((SYMBOL, "manage")) is not None and runner._jobs[(SYMBOL, "manage")].task.done())
    assert runner.live.moves == 0 and not rig.events.of(StopMoved)
