"""The bot's maker-first entry (tradebot/care/maker_entry.py through Trader.enter) against the simulator: a PostOnly
limit at the touch partly filled, the rest cancelled, the filled part the position, the take-profit a reduce-only
limit for exactly that size filled as maker, the stop a Full-mode market stop; a limit never filled falls back to
a market entry (re-sized at taker) or to no trade.

Pages (../shared/reference/bybit-docs/): order/create-order.mdx (timeInForce PostOnly; stopLoss with tpslMode
Full), order/amend-order.mdx (re-price), order/cancel-order.mdx, position/trading-stop.mdx (tpslMode Partial,
tpSize, tpOrderType Limit, tpLimitPrice), order/execution.mdx (isMaker, feeRate), enum.mdx (Cancelled keeps its
fills in derivatives)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from proving.sim import BookParams, Simulator
from storage.journal import Journal
from tests.engine.conftest import KEY, SECRET, SYMBOL
from tests.recorder import Recorder
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.care.trader import Trader
from tradebot.chat.service import BotService
from tradebot.events import EntryFailed, EntryFilled, EventBus
from tradebot.side import Side
from tradebot.sizing.execution import ExecutionSettings, taker_qty
from tradebot.sizing.risk import RiskParams

D = Decimal
MAKER = ExecutionSettings(mode="maker_first", reprice_max=2, reprice_window_s=3)
SL, TP = D("59000"), D("61000")


@pytest.fixture
async def rig(db):
    sim = Simulator(symbols=[SYMBOL], price=D(60000), book=BookParams(level_notional=D("300")), rate_limits=False,
                    api_key=KEY, api_secret=SECRET)  # bid one tick under the last; a touch fills ≈ 0.005 BTC
    client = BybitClient("http://sim.local", KEY, SECRET, transport=sim.transport(),
                         retry=RetryPolicy(attempts=2, base_delay=0.0))
    journal, bus, events = Journal(db), EventBus(), Recorder()
    bus.subscribe(events)
    trader = Trader(client, journal, bus)
    yield sim, client, trader, events
    await client.aclose()
    journal.close()
    sim.close()


def moves(sim: Simulator, *steps: tuple[str, ...]) -> Callable[[float], object]:
    """A sleep that moves the market: each wait walks the next step's prices (then nothing moves)."""
    left = list(steps)

    async def sleep(_: float) -> None:
        for px in left.pop(0) if left else ():
            sim.set_price(SYMBOL, px)

    return sleep


async def positions_view(client: BybitClient, trader: Trader) -> list:
    return await (await bare_service(client, trader)).positions()


async def bare_service(client: BybitClient, trader: Trader) -> BotService:
    """A service over the client and journal only; its ``engine`` gives the live strategy (for /chart)."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from tradebot.chat.service import BotService
    from tradebot.settings.config import Config as Cfg
    from tradebot.settings.config import EnvSettings, FileConfig

    cfg = Cfg(env=EnvSettings(), file=FileConfig(), source="test", demo=True)
    engine = SimpleNamespace(settings=SimpleNamespace(strategy=cfg.strategy))
    return BotService(cfg, engine, client, trader.journal, lambda: datetime.now(UTC))  # type: ignore[arg-type]


async def enter(client: BybitClient, trader: Trader, execution: ExecutionSettings, qty: str = "0.012",
                fallback: str = "0.011") -> object:
    inst = await client.instrument(SYMBOL)
    return await trader.enter(symbol=SYMBOL, side=Side.BUY, qty=D(qty), sl=SL, tp=TP, atr=D(300), inst=inst,
                              risk=RiskParams(trailing_mode="bot"), link_root="mk1", execution=execution,
                              fallback_qty=D(fallback))


async def test_partly_filled_maker_entry_becomes_the_position_with_a_maker_take_profit(rig):
    sim, client, trader, events = rig
    rates = (await client.fee_rates(SYMBOL))[SYMBOL]
    bid = (await client.ticker(SYMBOL)).bid1
    trader.sleep = moves(sim, ("60100", str(bid)))  # one touch of the resting bid: part of it fills
    res = await enter(client, trader, MAKER)
    assert res.ok and res.qty == D("0.005") and res.price == bid
    assert res.note == "Entered as a PostOnly limit, partly: 0.005 of 0.012, the rest cancelled."  # said at the tap
    [pos] = await client.positions(SYMBOL)
    assert (pos.size, pos.stop_loss, pos.take_profit) == (D("0.005"), SL, None)  # Full-mode market stop
    entry = await client.get_order(SYMBOL, order_link_id="en-mk1")
    assert entry is not None and (entry.status, entry.cum_exec_qty, entry.time_in_force) == (
        "Cancelled", D("0.005"), "PostOnly")  # the rest cancelled, the fills kept
    [fill] = await client.executions(SYMBOL, order_id=entry.order_id)
    assert (fill.is_maker, fill.fee_rate) == (True, rates.maker)
    [filled] = [e for e in events.events if isinstance(e, EntryFilled)]
    assert filled.qty == D("0.005") and filled.fee == D("0.005") * bid * rates.maker
    stops = {o.stop_order_type: o for o in await client.open_orders(SYMBOL)}
    tp = stops["PartialTakeProfit"]
    assert (tp.order_type, tp.price, tp.trigger_price, tp.qty, tp.reduce_only) == ("Limit", TP, TP, D("0.005"), True)
    [view] = await positions_view(client, trader)
    assert (view.size, view.sl, view.tp) == (D("0.005"), SL, TP)  # /positions reads the limit take-profit
    chart = await (await bare_service(client, trader)).chart_data(SYMBOL, None)
    assert chart.position is not None and chart.position.take_profit == TP  # and /chart draws it
    sim.set_price(SYMBOL, "61000")  # triggers: the limit rests at 61000 (this touch fills part of it)
    sim.set_price(SYMBOL, "61000.1")  # traded through: the rest fills
    exits = await client.executions(SYMBOL, order_id=tp.order_id)
    assert {(e.is_maker, e.fee_rate, e.exec_price) for e in exits} == {(True, rates.maker, TP)}
    assert sum(e.exec_qty for e in exits) == D("0.005")
    assert await client.positions(SYMBOL) == [] and await client.open_orders(SYMBOL) == []
    rows = await client.closed_pnl(SYMBOL)  # one row per closing fill
    assert sum(r.closed_pnl for r in rows) == (TP - bid) * D("0.005") - D("0.005") * (bid + TP) * rates.maker


async def test_a_limit_never_filled_falls_back_to_a_smaller_market_entry(rig):
    sim, client, trader, events = rig
    rates = (await client.fee_rates(SYMBOL))[SYMBOL]
    trader.sleep = moves(sim)  # the market never comes down to the bid
    res = await enter(client, trader, MAKER)
    assert res.ok and res.qty == D("0.011")
    assert "not filled" in res.note and "entered at market (taker fee), size 0.012 → 0.011" in res.note, res.note
    entry = await client.get_order(SYMBOL, order_link_id="en-mk1")
    assert entry is not None and (entry.status, entry.cum_exec_qty) == ("Cancelled", 0)
    [pos] = await client.positions(SYMBOL)
    assert (pos.size, pos.stop_loss, pos.take_profit) == (D("0.011"), SL, None)
    market = await client.get_order(SYMBOL, order_link_id="en-mk1m")
    assert market is not None and market.order_type == "Market"
    [fill] = await client.executions(SYMBOL, order_id=market.order_id)
    assert (fill.is_maker, fill.fee_rate) == (False, rates.taker)
    stops = {o.stop_order_type: o for o in await client.open_orders(SYMBOL)}
    assert (stops["PartialTakeProfit"].qty, stops["PartialTakeProfit"].order_type) == (D("0.011"), "Limit")


async def test_skip_trades_nothing(rig):
    sim, client, trader, events = rig
    trader.sleep = moves(sim)
    res = await enter(client, trader, MAKER.model_copy(update={"fallback": "skip"}))
    assert not res.ok and "not filled" in res.text and "fallback skip" in res.text
    assert await client.positions(SYMBOL) == [] and await client.open_orders(SYMBOL) == []
    assert any(isinstance(e, EntryFailed) for e in events.events)


def test_the_market_fallback_keeps_within_the_maker_sized_risk():
    from tradebot.backtest.data import default_instrument

    inst = default_instrument(SYMBOL)
    # maker-sized 0.012 with 100 USDT at risk at 60000: the taker entry costs (0.00055 - 0.0002) x 60000 more per coin
    q = taker_qty(D("0.012"), D("100"), D("60000"), D("0.0002"), D("0.00055"), inst)
    per_coin = D("100") / D("0.012")
    assert q * (per_coin + D("0.00035") * 60000) <= 100 and q == D("0.011")
    # fees with a taker entry ≈ 0.0011 x 60000 = 66 of ≈ 8354 per coin (0.8%): over a 0.5% cap, no fallback
    assert taker_qty(D("0.012"), D("100"), D("60000"), D("0.0002"), D("0.00055"), inst,
                     max_fee_share=D("0.005")) == 0
    assert taker_qty(D("0.012"), D("100"), D("60000"), D("0.0002"), D("0.00055"), inst,
                     max_fee_share=D("0.02")) == D("0.011")


@pytest.mark.parametrize(("maker", "words"), [
    (True, "maker entry 0.02% (a market fallback is re-sized at taker), taker stop 0.055%; take-profit as a maker "
           "limit"),
    (False, "taker 0.055% in and out, at the stop"),
])
def test_the_card_says_which_fees_it_assumed(maker: bool, words: str) -> None:
    from datetime import UTC, datetime

    from handlers.render.formatting import confirmation_card
    from tradebot.backtest.data import default_instrument
    from tradebot.events import ConfirmationNeeded
    from tradebot.sizing.risk import size_position
    from tradebot.strategy.signal import Signal

    rate = D("0.0002") if maker else D("0.00055")
    s = size_position(side=Side.BUY, entry_price=D(60000), atr=D(300), available_balance=D(10000),
                      inst=default_instrument(SYMBOL), params=RiskParams(), fee_rate=D("0.00055"),
                      entry_fee_rate=rate, tp_fee_rate=rate)
    assert s.ok and s.entry_fee_rate == rate
    signal = Signal(SYMBOL, datetime(2025, 1, 1, tzinfo=UTC), D(60000), "BUY", 7.0, 6.0, D(300), ())
    card = confirmation_card(ConfirmationNeeded(
        "c1", SYMBOL, Side.BUY, s.entry_price, s.qty, s.sl, s.tp, s.risk_usdt, s.risk_pct_of_balance, s.reward_risk,
        None, s.notional, signal, datetime(2025, 1, 1, tzinfo=UTC), None, s.fees_usdt, s.fee_rate, s.risk_base,
        s.entry_fee_rate, maker))
    assert words in card.text
    # the fees the card counts: the entry at its rate and the stop exit at the taker rate (slipped stop)
    x = s.sl * (1 - D("0.0002"))
    assert s.fees_usdt == s.qty * (rate * 60000 + D("0.00055") * x)


async def test_the_engine_enters_maker_first_in_auto_mode(sim, db):
    """The engine's own path (issue 21): sized at the maker entry rate, the PostOnly at the bid not filled while
    the market stands still, cancelled, then the market fallback re-sized at the taker rate and the maker
    take-profit for what filled."""
    import dataclasses

    from tests.engine.conftest import Rig, make_config

    base = make_config(mode="auto")
    cfg = dataclasses.replace(base, file=base.file.model_copy(update={"execution": MAKER}))
    rig = Rig(sim, cfg, db)
    try:
        rig.engine.trader.sleep = moves(sim)
        await rig.engine.tick(SYMBOL)
        [fill] = rig.events.of(EntryFilled)
        [first] = [o for o in await rig.client.order_history(SYMBOL) if o.time_in_force == "PostOnly"]
        assert first.status == "Cancelled" and first.cum_exec_qty == 0  # nothing traded at the bid meanwhile
        assert first.qty > fill.qty  # the market fallback is smaller: its entry pays the taker fee
        stops = {o.stop_order_type: o for o in await rig.client.open_orders(SYMBOL)}
        assert (stops["PartialTakeProfit"].qty, stops["PartialTakeProfit"].price) == (fill.qty, fill.tp)
        assert Decimal(rig.position()["stopLoss"]) == fill.sl
    finally:
        await rig.close()


async def test_a_maker_entry_a_crash_left_resting_is_settled_by_reconciliation(rig):
    """The process died while its PostOnly entry rested, part filled: the next reconciliation cancels the rest,
    journals the filled part as the trade and adds its maker take-profit."""
    from datetime import UTC, datetime, timedelta

    from tradebot.care.maker_entry import entry_order
    from tradebot.care.positions import PositionManager

    sim, client, trader, events = rig
    inst = await client.instrument(SYMBOL)
    bid = (await client.ticker(SYMBOL)).bid1
    link = "en-crashed"
    await trader.journal.trades.begin_entry(link=link, symbol=SYMBOL, side=Side.BUY, qty=D("0.012"),
                                           confirmation_id=None)
    await client.place(entry_order(SYMBOL, Side.BUY, D("0.012"), bid, SL, link))
    sim.set_price(SYMBOL, "60100")
    sim.set_price(SYMBOL, bid)  # part of it fills; then the process is gone
    pm = PositionManager(client, trader.journal, trader.bus, trader, lambda: RiskParams(trailing_mode="bot"),
                         "adopt", timedelta(0))
    pm.entry_wait_s = 3
    await pm.reconcile({SYMBOL: inst}, {SYMBOL: D(300)}, datetime.now(UTC) + timedelta(hours=1))
    order = await client.get_order(SYMBOL, order_link_id=link)
    assert order is not None and (order.status, order.cum_exec_qty) == ("Cancelled", D("0.005"))
    [filled] = [e for e in events.events if isinstance(e, EntryFilled)]
    assert filled.qty == D("0.005")
    stops = {o.stop_order_type: o for o in await client.open_orders(SYMBOL)}
    assert stops["PartialTakeProfit"].qty == D("0.005") and stops["PartialTakeProfit"].order_type == "Limit"
