"""Maker-side execution in the simulator: PostOnly, resting limits filled in part or in full, cancelling the rest,
maker vs taker fees per fill, and what the REST lists and the private streams show of each.

Rules from Bybit's docs (../shared/reference/bybit-docs/):
- order/create-order.mdx: "PostOnly: If the order would be filled immediately when submitted, it will be
  cancelled"; the create answer is an acknowledgement ({orderId, orderLinkId}, retCode 0), not a fill.
- order/order-list.mdx's example: such an order is orderStatus Cancelled, cancelType UNKNOWN, rejectReason
  EC_PostOnlyWillTakeLiquidity, timeInForce PostOnly, cumExecQty 0; enum.mdx#rejectreason names the reason.
- order/amend-order.mdx: only unfilled or partially filled orders are amended; a PostOnly amended to a price that
  would take is cancelled the same way (create-order.mdx: "If the matching system cannot entrust the order to the
  order book due to price changes on the market, it will be cancelled").
- enum.mdx#orderstatus: PartiallyFilled is open; "Cancelled: In derivatives, orders with this status may have an
  executed qty"; "PartiallyFilledCanceled: Only spot has this order status" (so a linear order's unfilled rest is
  Cancelled, its fills kept).
- order/execution.mdx, websocket/private/execution.mdx: one row per fill with isMaker, feeRate, leavesQty;
  account/fee-rate.mdx: takerFeeRate / makerFeeRate are what fills are charged.
- order/open-order.mdx, websocket/private/order.mdx: leavesQty, cumExecQty, orderStatus of each order.
The share of a touch that fills is a modelling choice (proving/sim/resting.py, conformance.MODELLED).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proving.sim import BookParams, Fees, SimRejection, conformance
from proving.sim.exchange import OrderRequest
from proving.sim.resting import resting_fill_qty, touch_qty
from tests.sim.helpers import SyncApi, make_sim
from tradebot.side import Side

D = Decimal
SYM = {"category": "linear", "symbol": "BTCUSDT"}
THIN = BookParams(level_notional=D("300"))  # one level ≈ 0.005 BTC at 60000: a touch fills 0.005


def _api(sim: Any) -> SyncApi:
    return SyncApi(httpx.Client(base_url="http://sim", transport=sim.sync_transport()))


def _order(api: SyncApi, oid: str) -> dict[str, Any]:
    return api.ok("GET", "/v5/order/realtime", **SYM, orderId=oid)["list"][0]


def _fills(api: SyncApi, oid: str) -> list[dict[str, Any]]:
    return api.ok("GET", "/v5/execution/list", **SYM, orderId=oid)["list"]


def test_resting_rule_is_written_as_a_modelling_choice():
    assert "resting-limit" in conformance.MODELLED and "touch" in conformance.MODELLED["resting-limit"]


@settings(max_examples=200, deadline=None)
@given(side=st.sampled_from([Side.BUY, Side.SELL]), left=st.integers(1, 50), prev=st.integers(-20, 20),
       last=st.integers(-20, 20), share=st.sampled_from([D(0), D("0.5"), D(1)]))
def test_resting_rule(side, left, prev, last, share):
    """A resting limit at 100 (ticks of 1, qty steps of 0.001): through by a tick fills all that is left, an
    arrival at the price fills at most the touch quantity, nothing else fills, and never more than is left."""
    params = BookParams(level_notional=D("0.4"), touch_share=share)  # one level = 0.004 at price 100
    price, qty = D(100), D(left) / 1000
    p0, p1 = price + prev, price + last
    got = resting_fill_qty(side, price, qty, p0, p1, D(1), D("0.001"), params)
    through = (price - p1) * side.sign >= 1
    arrived = p1 == price and (price - p0) * side.sign < 0
    assert got == (qty if through else min(qty, D("0.004") * share) if arrived else 0)
    assert 0 <= got <= qty and touch_qty(price, D("0.001"), params) == D("0.004") * share


def test_postonly_that_would_take_is_acknowledged_then_cancelled():
    sim = make_sim(book=BookParams())  # bid 59999.9 / ask 60000.1
    api = _api(sim)
    r = api.post("/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.01", price="60000.1",
                 timeInForce="PostOnly", orderLinkId="po-take")
    assert r["retCode"] == 0 and set(r["result"]) == {"orderId", "orderLinkId"}  # an ack, not a fill
    [row] = api.ok("GET", "/v5/order/history", **SYM, orderLinkId="po-take")["list"]
    assert (row["orderStatus"], row["cancelType"], row["rejectReason"], row["timeInForce"]) == (
        "Cancelled", "UNKNOWN", "EC_PostOnlyWillTakeLiquidity", "PostOnly")  # order-list.mdx's example
    assert (row["cumExecQty"], row["leavesQty"], row["avgPrice"]) == ("0", "0", "")
    assert api.ok("GET", "/v5/execution/list", **SYM)["list"] == []
    assert api.ok("GET", "/v5/order/realtime", **SYM)["list"] == []
    assert sim.exchange.wallet == D(10000) and not sim.exchange.positions["BTCUSDT"].size
    rest = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.01", price="59999.9",
                  timeInForce="PostOnly")["orderId"]  # at the best bid: rests
    assert _order(api, rest)["orderStatus"] == "New"
    sim.set_price("BTCUSDT", "59990")  # traded through: filled as maker
    [fill] = _fills(api, rest)
    assert (fill["isMaker"], fill["execPrice"], D(fill["feeRate"])) == (True, "59999.9", sim.exchange.fees.maker)


def test_touch_fills_part_through_fills_the_rest_one_row_per_fill():
    sim = make_sim(book=THIN)
    api = _api(sim)
    oid = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.012", price="59990",
                 timeInForce="PostOnly")["orderId"]
    sim.set_price("BTCUSDT", "59990")  # arrives at the price: one level's size (300 / 59990 → 0.005) trades
    o = _order(api, oid)
    assert (o["orderStatus"], o["cumExecQty"], o["leavesQty"]) == ("PartiallyFilled", "0.005", "0.007")
    sim.set_price("BTCUSDT", "59990")  # no move, no new touch
    assert _order(api, oid)["cumExecQty"] == "0.005"
    sim.set_price("BTCUSDT", "60010")
    sim.set_price("BTCUSDT", "59990")  # a second arrival: another touch
    assert _order(api, oid)["cumExecQty"] == "0.01"
    sim.set_price("BTCUSDT", "59989.9")  # one tick through: the rest fills
    o = _order(api, oid)
    assert (o["orderStatus"], o["cumExecQty"], o["leavesQty"], o["avgPrice"]) == ("Filled", "0.012", "0", "59990")
    fills = _fills(api, oid)
    assert [(f["execQty"], f["leavesQty"], f["isMaker"]) for f in reversed(fills)] == [
        ("0.005", "0.007", True), ("0.005", "0.002", True), ("0.002", "0", True)]
    assert api.ok("GET", "/v5/position/list", **SYM)["list"][0]["size"] == "0.012"


def test_sell_side_touch_and_touch_share_zero():
    sim = make_sim(book=BookParams(level_notional=D("300"), touch_share=D(0)))  # a touch never fills
    api = _api(sim)
    oid = api.ok("POST", "/v5/order/create", **SYM, side="Sell", orderType="Limit", qty="0.01", price="60010",
                 timeInForce="PostOnly")["orderId"]
    sim.set_price("BTCUSDT", "60010")
    assert _order(api, oid)["cumExecQty"] == "0"
    sim.set_price("BTCUSDT", "60010.1")
    assert _order(api, oid)["orderStatus"] == "Filled"


def test_cancel_the_rest_keeps_the_fill():
    sim = make_sim(book=THIN)
    api = _api(sim)
    oid = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.012", price="59990",
                 orderLinkId="entry-part")["orderId"]
    sim.set_price("BTCUSDT", "59990")
    r = api.ok("POST", "/v5/order/cancel", **SYM, orderLinkId="entry-part")
    assert r == {"orderId": oid, "orderLinkId": "entry-part"}
    [row] = api.ok("GET", "/v5/order/history", **SYM, orderId=oid)["list"]
    assert (row["orderStatus"], row["cancelType"], row["cumExecQty"], row["leavesQty"]) == (
        "Cancelled", "CancelByUser", "0.005", "0")  # enum.mdx: derivatives' Cancelled may have an executed qty
    assert api.ok("GET", "/v5/position/list", **SYM)["list"][0]["size"] == "0.005"
    assert api.post("/v5/order/cancel", **SYM, orderId=oid)["retCode"] == 110001  # cancel-order.mdx: open only
    assert api.post("/v5/order/amend", **SYM, orderId=oid, price="59980")["retCode"] == 110001


def test_amend_a_partly_filled_postonly():
    """amend-order.mdx: partially filled orders can be amended; across the book a PostOnly is cancelled with its
    fills kept; a qty amended down to what already filled leaves nothing to fill."""
    sim = make_sim(book=BookParams(level_notional=D("300")))
    api = _api(sim)
    oid = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.012", price="59990",
                 timeInForce="PostOnly")["orderId"]
    sim.set_price("BTCUSDT", "59990")
    r = api.ok("POST", "/v5/order/amend", **SYM, orderId=oid, price="59985")  # below the ask (59990.1): rests
    assert r["orderId"] == oid and _order(api, oid)["price"] == "59985"
    api.ok("POST", "/v5/order/amend", **SYM, orderId=oid, price="60000")  # at/over the ask: it would take
    o = api.ok("GET", "/v5/order/history", **SYM, orderId=oid)["list"][0]
    assert (o["orderStatus"], o["rejectReason"], o["cumExecQty"]) == ("Cancelled", "EC_PostOnlyWillTakeLiquidity",
                                                                     "0.005")
    assert len(_fills(api, oid)) == 1  # nothing taken
    two = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.012", price="59980",
                 timeInForce="PostOnly")["orderId"]
    sim.set_price("BTCUSDT", "59980")
    api.ok("POST", "/v5/order/amend", **SYM, orderId=two, qty="0.005")
    assert _order(api, two)["orderStatus"] == "Filled"
    assert api.post("/v5/order/amend", **SYM, orderId=two, qty="0.004")["retCode"] == 110001


def test_maker_and_taker_fees_per_fill():
    """account/fee-rate.mdx's example rates: every fill is charged the rate of its kind, and says which."""
    sim = make_sim(fees=Fees(taker=D("0.0006"), maker=D("0.0001")))
    api = _api(sim)
    [rate] = api.ok("GET", "/v5/account/fee-rate", **SYM)["list"]
    assert (rate["takerFeeRate"], rate["makerFeeRate"]) == ("0.0006", "0.0001")
    taker = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01")["orderId"]
    maker = api.ok("POST", "/v5/order/create", **SYM, side="Sell", orderType="Limit", qty="0.01", price="60100",
                   reduceOnly=True)["orderId"]
    sim.set_price("BTCUSDT", "60200")
    [t], [m] = _fills(api, taker), _fills(api, maker)
    assert (t["isMaker"], t["feeRate"], D(t["execFee"])) == (False, "0.0006", D("0.36"))
    assert (m["isMaker"], m["feeRate"], D(m["execFee"])) == (True, "0.0001", D("0.0601"))
    [pnl] = api.ok("GET", "/v5/position/closed-pnl", **SYM)["list"]
    assert (D(pnl["openFee"]), D(pnl["closeFee"]), D(pnl["closedPnl"])) == (D("0.36"), D("0.0601"),
                                                                           D("1") - D("0.4201"))


def test_streams_publish_the_postonly_cancel_and_each_partial_fill():
    """websocket/private/order.mdx and execution.mdx: the cancelled PostOnly is one order message and no
    execution; a touch publishes the order PartiallyFilled (cumExecQty, leavesQty) and its maker execution."""
    sim = make_sim(book=THIN)
    got: list[tuple[str, dict[str, Any]]] = []
    sim.publisher.sinks.append(lambda topic, msg: got.extend((topic, row) for row in msg["data"]))
    api = _api(sim)
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.012", price="60000.1",
           timeInForce="PostOnly", orderLinkId="ws-take")  # at the ask
    assert [(t, r["orderStatus"], r["rejectReason"]) for t, r in got] == [
        ("order", "Cancelled", "EC_PostOnlyWillTakeLiquidity")]
    got.clear()
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.012", price="59990",
           timeInForce="PostOnly", orderLinkId="ws-rest")
    sim.set_price("BTCUSDT", "59990")
    private = [(t, r) for t, r in got if t in ("order", "execution")]
    orders = [r for t, r in private if t == "order"]
    [fill] = [r for t, r in private if t == "execution"]
    assert [(r["orderStatus"], r["cumExecQty"], r["leavesQty"]) for r in orders] == [
        ("New", "0", "0.012"), ("PartiallyFilled", "0.005", "0.007")]
    assert (fill["orderLinkId"], fill["execQty"], fill["leavesQty"], fill["isMaker"], fill["feeRate"]) == (
        "ws-rest", "0.005", "0.007", True, "0.0002")


@pytest.mark.parametrize("book", [BookParams(), THIN, BookParams.zero()])
def test_limits_never_fill_beyond_their_qty(book):
    sim = make_sim(book=book, rate_limits=False)
    api = _api(sim)
    oid = api.ok("POST", "/v5/order/create", **SYM, side="Sell", orderType="Limit", qty="0.02", price="60050")[
        "orderId"]
    for px in ("60050", "60000", "60050", "60060", "60050", "60100"):
        sim.set_price("BTCUSDT", px)
        o = _order(api, oid)
        assert D(o["cumExecQty"]) + D(o["leavesQty"]) == D("0.02") or o["orderStatus"] == "Filled"
    assert _order(api, oid)["orderStatus"] == "Filled"
    assert sum(D(f["execQty"]) for f in _fills(api, oid)) == D("0.02")


@settings(max_examples=40, deadline=None)
@given(orders=st.lists(st.tuples(st.sampled_from(["Buy", "Sell"]), st.integers(-8, 8), st.integers(1, 20),
                                 st.booleans()), min_size=1, max_size=6),
       path=st.lists(st.integers(-8, 8), min_size=1, max_size=20), share=st.sampled_from([D(0), D("0.5"), D(1)]))
def test_resting_fills_add_up(orders, path, share):
    """Whatever rests and however the price walks (10-dollar steps around 60000, so touches happen): each
    order's executions add up to its cumExecQty ≤ qty, leaves = qty − filled while open, PartiallyFilled exactly
    when part is filled, every resting fill is maker at the order's price, and the wallet is explained by them."""
    sim = make_sim(book=BookParams(level_notional=D("300"), touch_share=share), rate_limits=False)
    ex = sim.exchange
    placed = []
    for side, off, q, post in orders:
        price = D(60000 + off * 10)
        try:
            placed.append(ex.place_order(OrderRequest("BTCUSDT", side, "Limit", D(q) / 1000, price,
                                                      "PostOnly" if post else "GTC")))
        except SimRejection:
            pass
    for step in path:
        sim.set_price("BTCUSDT", D(60000 + step * 10))
        for o in placed:
            rows = [e for e in ex.executions if e.order_id == o.order_id]
            assert sum((e.exec_qty for e in rows), D(0)) == o.cum_qty <= o.qty
            assert o.status != "PartiallyFilled" or 0 < o.cum_qty < o.qty
            if o.is_open:
                assert o.leaves == o.qty - o.cum_qty and (o.cum_qty == 0) == (o.status == "New")
            assert all(e.is_maker and e.exec_price == o.price for e in rows if o.tif == "PostOnly")
    gross = sum((e.exec_pnl for e in ex.executions), D(0))
    fees = sum((e.exec_fee for e in ex.executions), D(0))
    assert abs(ex.wallet - (D(10000) + gross - fees)) < D("1e-12")
