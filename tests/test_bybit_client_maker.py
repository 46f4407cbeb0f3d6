"""BybitClient against the simulator through a maker-first trade: a PostOnly that would take, a PostOnly entry
re-priced and partly filled, the rest cancelled, a Partial limit take-profit (from create-order and from
trading-stop) filled as maker, all read back through the typed models.

Pages (../shared/reference/bybit-docs/): order/create-order.mdx (PostOnly; tpslMode Partial with tpOrderType
Limit), order/amend-order.mdx, order/cancel-order.mdx, position/trading-stop.mdx (tpSize), enum.mdx (Cancelled may
have an executed qty in derivatives; rejectReason EC_PostOnlyWillTakeLiquidity), order/execution.mdx (isMaker,
feeRate, leavesQty), account/fee-rate.mdx.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from proving.sim import BookParams, Simulator
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.bybit.orders import NewOrder, OrderType, TimeInForce, TpslMode
from tradebot.side import Side

D = Decimal
SYMBOL = "BTCUSDT"


@pytest.fixture
async def rig():
    sim = Simulator(symbols=[SYMBOL], price=D(60000), book=BookParams(level_notional=D("300")), rate_limits=False,
                    api_key="k", api_secret="s")  # bid/ask one tick off the last; a touch ≈ 0.005 BTC
    client = BybitClient("http://sim.local", "k", "s", transport=sim.transport(),
                         retry=RetryPolicy(attempts=2, base_delay=0.0))
    yield sim, client
    await client.aclose()


def _entry(link: str, price: Decimal) -> NewOrder:
    return NewOrder(symbol=SYMBOL, side=Side.BUY, qty=D("0.012"), order_link_id=link,
                    order_type=OrderType.LIMIT, price=price, time_in_force=TimeInForce.POST_ONLY,
                    tpsl_mode=TpslMode.PARTIAL, take_profit=D("60900"), tp_order_type=OrderType.LIMIT,
                    tp_limit_price=D("61000"))


async def test_maker_first_trade_through_the_client(rig):
    sim, client = rig
    rates = (await client.fee_rates(SYMBOL))[SYMBOL]
    ticker = await client.ticker(SYMBOL)
    ack = await client.place(_entry("cm-take", ticker.ask1))
    taken = await client.get_order(SYMBOL, order_id=ack.order_id)
    assert taken is not None and taken.post_only_cancelled and taken.is_final and taken.cum_exec_qty == 0
    ack = await client.place(_entry("cm-entry", D("59950")))
    moved = await client.amend_order(SYMBOL, order_link_id="cm-entry", price=ticker.bid1)
    assert moved is not None and moved.order_id == ack.order_id
    sim.set_price(SYMBOL, "60100")
    sim.set_price(SYMBOL, ticker.bid1)  # a touch
    entry = await client.get_order(SYMBOL, order_link_id="cm-entry")
    assert entry is not None and (entry.status, entry.cum_exec_qty, entry.leaves_qty) == (
        "PartiallyFilled", D("0.005"), D("0.007"))
    assert (entry.tpsl_mode, entry.tp_limit_price, entry.time_in_force) == ("Partial", D("61000"), "PostOnly")
    [fill] = await client.executions(SYMBOL, order_id=ack.order_id)
    assert (fill.is_maker, fill.fee_rate, fill.leaves_qty, fill.exec_price) == (True, rates.maker, D("0.007"),
                                                                                ticker.bid1)
    assert await client.cancel_order(SYMBOL, order_link_id="cm-entry") is True
    entry = await client.get_order(SYMBOL, order_link_id="cm-entry")
    assert entry is not None and (entry.status, entry.cum_exec_qty, entry.is_final) == ("Cancelled", D("0.005"),
                                                                                         True)
    assert await client.amend_order(SYMBOL, order_link_id="cm-entry", price=D("59000")) is None  # gone
    assert await client.set_trading_stop(symbol=SYMBOL, stop_loss=D("59000")) is True  # Full, market stop
    [pos] = await client.positions(SYMBOL)
    assert (pos.size, pos.stop_loss, pos.take_profit) == (D("0.005"), D("59000"), None)  # Partial TP: an order
    stops = {o.stop_order_type: o for o in await client.open_orders(SYMBOL)}
    tp = stops["PartialTakeProfit"]
    assert (tp.order_type, tp.price, tp.trigger_price, tp.qty, tp.tpsl_mode, tp.parent_order_link_id) == (
        "Limit", D("61000"), D("60900"), D("0.005"), "Partial", "cm-entry")
    sim.set_price(SYMBOL, "60950")
    sim.set_price(SYMBOL, "61000.1")
    [exit_fill] = await client.executions(SYMBOL, order_id=tp.order_id)
    assert (exit_fill.is_maker, exit_fill.fee_rate, exit_fill.stop_order_type, exit_fill.create_type) == (
        True, rates.maker, "PartialTakeProfit", "CreateByPartialTakeProfit")
    assert await client.positions(SYMBOL) == [] and await client.open_orders(SYMBOL) == []
    [pnl] = await client.closed_pnl(SYMBOL)
    assert pnl.close_fee == D("0.005") * 61000 * rates.maker


async def test_partial_limit_tp_added_by_trading_stop(rig):
    sim, client = rig
    await client.place_order(symbol=SYMBOL, side="Buy", qty=D("0.02"), order_link_id="cm-mkt")
    assert await client.set_trading_stop(symbol=SYMBOL, tpsl_mode="Partial", take_profit=D("60500"),
                                         tp_size=D("0.02"), tp_order_type="Limit", tp_limit_price=D("60600"),
                                         stop_loss=D("59500"), sl_size=D("0.02")) is True
    stops = {o.stop_order_type: o for o in await client.open_orders(SYMBOL)}
    assert set(stops) == {"PartialTakeProfit", "PartialStopLoss"}
    assert (stops["PartialTakeProfit"].order_type, stops["PartialStopLoss"].order_type) == ("Limit", "Market")
    sim.set_price(SYMBOL, "60550")  # TP triggers (rests at 60600); its bound SL goes
    rows = {o.order_id: o for o in await client.order_history(SYMBOL)}
    sl = rows[stops["PartialStopLoss"].order_id]
    assert (sl.status, sl.cancel_type) == ("Deactivated", "CancelByOCOSlCanceledByTpTriggered")
    sim.set_price(SYMBOL, "60700")
    [fill] = await client.executions(SYMBOL, order_id=stops["PartialTakeProfit"].order_id)
    assert fill.is_maker and fill.exec_price == D("60600") and fill.exec_qty == D("0.02")
