"""Partial-mode TP/SL (tpslMode=Partial) in the simulator: their system orders, Limit take-profits resting as maker,
trading-stop adding them, and what happens when the position is closed or reduced.

Rules from Bybit's docs (../shared/reference/bybit-docs/):
- order/create-order.mdx: tpslMode "Partial: partial position tp/sl (as there is no size option, so it will
  create tp/sl orders with the qty you actually fill). Limit TP/SL order are supported. Note: When create limit
  tp/sl, tpslMode is required and it must be Partial"; "For tpslMode=Full, it only supports tpOrderType=Market";
  tpLimitPrice "only works when tpslMode=Partial and tpOrderType=Limit".
- position/trading-stop.mdx: "Partial position TP/SL orders: This API can only add partial position TP/SL
  orders"; tpSize/slSize "valid for TP/SL partial mode, note: the value of tpSize and slSize must equal";
  error.mdx 110061: "Not allowed to have more than 20 TP/SLs under Partial tpSlMode".
- enum.mdx: stopOrderType PartialTakeProfit / PartialStopLoss, createType CreateByPartialTakeProfit /
  CreateByPartialStopLoss, orderStatus Untriggered → Triggered → New, Deactivated; cancelType CancelByTpSlTsClear,
  CancelByReduceOnly, CancelByOCOSlCanceledByTpTriggered.
- order/open-order.mdx: tpslMode, tpLimitPrice, triggerPrice, triggerDirection, parentOrderLinkId of each order;
  position/position.mdx: the position row's tpslMode is "always Full".
- order/execution.mdx: a fill's stopOrderType, isMaker and feeRate.
Where the pages are silent the simulator's choice is written in proving/sim/conformance.py (MODELLED).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proving.sim import BookParams, conformance
from proving.sim.exchange import OrderRequest
from proving.sim.partial import Leg, add
from tests.sim.helpers import SyncApi, make_sim

D = Decimal
SYM = {"category": "linear", "symbol": "BTCUSDT"}
THIN = BookParams(enabled=False, level_notional=D("300"))  # exact fills; a touch at ~60000 fills 0.005
LIMIT_TP = {"tpslMode": "Partial", "takeProfit": "60900", "tpOrderType": "Limit", "tpLimitPrice": "61000"}


@pytest.fixture
def api():
    sim = make_sim(book=THIN)
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        a = SyncApi(c)
        a.sim = sim  # type: ignore[attr-defined]
        yield a


def _partials(api: SyncApi, **kw: Any) -> list[dict[str, Any]]:
    rows = api.ok("GET", "/v5/order/realtime", **SYM, orderFilter="StopOrder", **kw)["list"]
    return [r for r in rows if r["stopOrderType"].startswith("Partial")]


def _history(api: SyncApi) -> dict[str, dict[str, Any]]:
    return {r["orderId"]: r for r in api.ok("GET", "/v5/order/history", **SYM, limit=50)["list"]}


def test_the_choices_are_written():
    assert {"partial-tpsl-size", "partial-tpsl-oco", "partial-tpsl-trigger", "partial-tpsl-position",
            "partial-tpsl-params"} <= set(conformance.MODELLED)


def test_entry_with_partial_limit_tp_gets_orders_of_the_filled_qty(api):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.012", price="59990",
           timeInForce="PostOnly", orderLinkId="maker-1", stopLoss="59000", **LIMIT_TP)
    entry = api.ok("GET", "/v5/order/realtime", **SYM, orderLinkId="maker-1")["list"][0]
    assert (entry["tpslMode"], entry["takeProfit"], entry["stopLoss"], entry["tpLimitPrice"], entry["slLimitPrice"]) \
        == ("Partial", "60900", "59000", "61000", "")
    assert _partials(api) == []  # nothing filled yet
    api.sim.set_price("BTCUSDT", "59990")  # a touch: 0.005 of 0.012
    rows = {r["stopOrderType"]: r for r in _partials(api)}
    tp, sl = rows["PartialTakeProfit"], rows["PartialStopLoss"]
    assert (tp["orderType"], tp["price"], tp["triggerPrice"], tp["qty"], tp["timeInForce"]) == (
        "Limit", "61000", "60900", "0.005", "GTC")
    assert (sl["orderType"], sl["price"], sl["triggerPrice"], sl["qty"]) == ("Market", "0", "59000", "0.005")
    for o, direction in ((tp, 1), (sl, 2)):
        assert (o["orderStatus"], o["tpslMode"], o["side"], o["reduceOnly"], o["closeOnTrigger"]) == (
            "Untriggered", "Partial", "Sell", True, True)
        assert o["createType"] == "CreateBy" + o["stopOrderType"] and o["triggerDirection"] == direction
        assert o["parentOrderLinkId"] == "maker-1" and o["triggerBy"] == "LastPrice"
    pos = api.ok("GET", "/v5/position/list", **SYM)["list"][0]
    assert (pos["size"], pos["tpslMode"], pos["takeProfit"], pos["stopLoss"]) == ("0.005", "Full", "0", "0")
    api.sim.set_price("BTCUSDT", "59989.9")  # through: the rest of the entry fills; its TP/SL grow with it
    assert {(r["stopOrderType"], r["qty"], r["orderId"]) for r in _partials(api)} == {
        ("PartialTakeProfit", "0.012", tp["orderId"]), ("PartialStopLoss", "0.012", sl["orderId"])}


def test_limit_tp_triggers_rests_and_fills_as_maker(api):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01", stopLoss="59000",
           **LIMIT_TP)
    tp = next(r for r in _partials(api) if r["stopOrderType"] == "PartialTakeProfit")
    sl = next(r for r in _partials(api) if r["stopOrderType"] == "PartialStopLoss")
    api.sim.set_price("BTCUSDT", "60950")  # reaches the trigger (60900), not the limit price (61000)
    o = api.ok("GET", "/v5/order/realtime", **SYM, orderId=tp["orderId"])["list"][0]
    assert (o["orderStatus"], o["orderType"], o["price"], o["qty"], o["stopOrderType"]) == (
        "New", "Limit", "61000", "0.01", "PartialTakeProfit")  # an active reduce-only limit now
    gone = _history(api)[sl["orderId"]]
    assert (gone["orderStatus"], gone["cancelType"]) == ("Deactivated", "CancelByOCOSlCanceledByTpTriggered")
    assert api.ok("GET", "/v5/execution/list", **SYM, orderId=tp["orderId"])["list"] == []
    api.sim.set_price("BTCUSDT", "61000.1")  # through the limit price by a tick
    [fill] = api.ok("GET", "/v5/execution/list", **SYM, orderId=tp["orderId"])["list"]
    assert (fill["stopOrderType"], fill["createType"], fill["execType"], fill["orderType"]) == (
        "PartialTakeProfit", "CreateByPartialTakeProfit", "Trade", "Limit")
    assert (fill["isMaker"], D(fill["feeRate"]), fill["execPrice"], fill["closedSize"]) == (
        True, api.sim.exchange.fees.maker, "61000", "0.01")
    [pnl] = api.ok("GET", "/v5/position/closed-pnl", **SYM)["list"]
    assert (pnl["avgExitPrice"], D(pnl["closeFee"])) == ("61000", D("0.01") * 61000 * api.sim.exchange.fees.maker)
    assert api.ok("GET", "/v5/position/list", **SYM)["list"][0]["size"] == "0"
    assert _history(api)[tp["orderId"]]["orderStatus"] == "Filled"


def test_limit_tp_priced_through_the_market_takes_at_trigger():
    sim = make_sim(book=BookParams())  # bid = last - 0.1
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        api = SyncApi(c)
        api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01", tpslMode="Partial",
               takeProfit="60900", tpOrderType="Limit", tpLimitPrice="60800")
        tp = _partials(api)[0]
        sim.set_price("BTCUSDT", "60950")
        [fill] = api.ok("GET", "/v5/execution/list", **SYM, orderId=tp["orderId"])["list"]
        assert (fill["isMaker"], fill["execPrice"]) == (False, "60899.9")  # the bid at the trigger point


def test_market_partial_tp_closes_its_size_and_the_full_sl_follows(api):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.03", stopLoss="59000")
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0, takeProfit="60500",
           tpSize="0.01")
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0, takeProfit="60700",
           tpSize="0.01")  # only adds
    assert sorted((r["triggerPrice"], r["qty"], r["orderType"]) for r in _partials(api)) == [
        ("60500", "0.01", "Market"), ("60700", "0.01", "Market")]
    assert {r["parentOrderLinkId"] for r in _partials(api)} == {""}
    api.sim.set_price("BTCUSDT", "60600")
    pos = api.ok("GET", "/v5/position/list", **SYM)["list"][0]
    assert (pos["size"], pos["stopLoss"]) == ("0.02", "59000")
    full_sl = next(r for r in api.ok("GET", "/v5/order/realtime", **SYM, orderFilter="StopOrder")["list"]
                   if r["stopOrderType"] == "StopLoss")
    assert full_sl["qty"] == "0.02"  # trading-stop.mdx: Full-mode orders follow the position size
    fill = api.ok("GET", "/v5/execution/list", **SYM)["list"][0]
    assert (fill["stopOrderType"], fill["isMaker"], fill["execPrice"], fill["execQty"]) == (
        "PartialTakeProfit", False, "60500", "0.01")


def test_closing_the_position_takes_the_partial_orders_with_it(api):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.02", stopLoss="59000")
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0, takeProfit="60500",
           tpSize="0.01", tpOrderType="Limit", tpLimitPrice="60600")
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0, takeProfit="61000",
           tpSize="0.01", tpOrderType="Limit", tpLimitPrice="61100")
    api.sim.set_price("BTCUSDT", "60550")  # the first triggers and rests at 60600
    first, second = sorted(_partials(api), key=lambda r: r["triggerPrice"])
    assert (first["orderStatus"], second["orderStatus"]) == ("New", "Untriggered")
    api.sim.set_price("BTCUSDT", "58900")  # the Full stop-loss closes everything
    hist = _history(api)
    assert (hist[first["orderId"]]["orderStatus"], hist[first["orderId"]]["cancelType"]) == (
        "Cancelled", "CancelByReduceOnly")
    assert (hist[second["orderId"]]["orderStatus"], hist[second["orderId"]]["cancelType"]) == (
        "Deactivated", "CancelByTpSlTsClear")
    assert api.ok("GET", "/v5/order/realtime", **SYM)["list"] == []


def test_a_reduced_position_caps_the_partial_order_when_it_triggers(api):
    api.ok("POST", "/v5/order/create", **SYM, side="Sell", orderType="Market", qty="0.02")
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0, stopLoss="60500",
           slSize="0.02")
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.015", reduceOnly=True)
    [sl] = _partials(api)
    assert sl["qty"] == "0.02" and sl["side"] == "Buy" and sl["triggerDirection"] == 1
    api.sim.set_price("BTCUSDT", "60600")
    [fill] = api.ok("GET", "/v5/execution/list", **SYM, orderId=sl["orderId"])["list"]
    assert fill["execQty"] == "0.005" and _history(api)[sl["orderId"]]["qty"] == "0.005"
    assert api.ok("GET", "/v5/position/list", **SYM)["list"][0]["size"] == "0"


def test_cancel_one_of_a_pair_by_order_id_unbinds_the_other(api):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.02")
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0, takeProfit="60500",
           stopLoss="59500", tpSize="0.01", slSize="0.01", slTriggerBy="MarkPrice")
    rows = {r["stopOrderType"]: r for r in _partials(api)}
    api.ok("POST", "/v5/order/cancel", **SYM, orderId=rows["PartialTakeProfit"]["orderId"])
    tp = _history(api)[rows["PartialTakeProfit"]["orderId"]]
    assert (tp["orderStatus"], tp["cancelType"]) == ("Deactivated", "CancelByUser")
    assert [r["stopOrderType"] for r in _partials(api)] == ["PartialStopLoss"]
    for px in ("59400", "59400", "59400", "59400"):  # the mark (mean of 4 points) reaches 59500
        api.sim.set_price("BTCUSDT", px)
    [fill] = api.ok("GET", "/v5/execution/list", **SYM, orderId=rows["PartialStopLoss"]["orderId"])["list"]
    assert fill["execQty"] == "0.01" and api.ok("GET", "/v5/position/list", **SYM)["list"][0]["size"] == "0.01"


def test_partial_orders_survive_a_state_file_restart(tmp_path):
    state = tmp_path / "sim.json"
    sim = make_sim(book=THIN, state_file=state)
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        api = SyncApi(c)
        api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01", stopLoss="59000",
               **LIMIT_TP)
        before = {r["stopOrderType"]: r for r in _partials(api)}
    sim.close()
    again = make_sim(book=THIN, state_file=state)
    with httpx.Client(base_url="http://sim", transport=again.sync_transport()) as c:
        api = SyncApi(c)
        assert {r["stopOrderType"]: r for r in _partials(api)} == before
        again.set_price("BTCUSDT", "60950")  # the TP triggers; the pair is still bound
        sl = _history(api)[before["PartialStopLoss"]["orderId"]]
        assert sl["cancelType"] == "CancelByOCOSlCanceledByTpTriggered"


@pytest.mark.parametrize(("params", "code", "text"), [
    ({"tpSize": "0.01"}, 10001, "takeProfit or stopLoss"),
    ({"takeProfit": "60500"}, 10001, "tpSize"),
    ({"takeProfit": "60500", "stopLoss": "59500", "tpSize": "0.01", "slSize": "0.02"}, 10001, "equal"),
    ({"takeProfit": "60500", "tpSize": "0.05"}, 10001, "exceeds the position"),
    ({"takeProfit": "60500", "tpSize": "0.0105"}, 10001, "Qty invalid"),
    ({"takeProfit": "0", "tpSize": "0.01"}, 10001, "only adds"),
    ({"takeProfit": "60500", "tpSize": "0.01", "trailingStop": "100"}, 10001, "trailing"),
    ({"takeProfit": "60500", "tpSize": "0.01", "tpOrderType": "Limit"}, 10001, "tpLimitPrice"),
    ({"takeProfit": "59500", "tpSize": "0.01"}, 10001, "TakeProfit:59500"),
    ({"takeProfit": "60500", "tpSize": "0.01", "tpOrderType": "Stop"}, 10001, "tpOrderType"),
])
def test_partial_trading_stop_refusals(api, params, code, text):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.02")
    r = api.post("/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0, **params)
    assert r["retCode"] == code and text in r["retMsg"], r
    assert _partials(api) == []


def test_at_most_20_per_kind(api):
    api.sim.rate_limits = False  # 21 trading-stop calls in a row (rate-limit.mdx: 10/s)
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.02")
    for i in range(20):
        api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0,
               takeProfit=str(60100 + i), tpSize="0.001")
    r = api.post("/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0, takeProfit="61000",
                 tpSize="0.001")
    assert r["retCode"] == 110061
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Partial", positionIdx=0, stopLoss="59000",
           slSize="0.001")  # the other kind still has room


@pytest.mark.parametrize(("params", "text"), [
    ({"tpslMode": "Full", "takeProfit": "61000", "tpOrderType": "Limit", "tpLimitPrice": "61000"}, "Partial"),
    ({"takeProfit": "61000", "tpOrderType": "Limit", "tpLimitPrice": "61000"}, "Partial"),
    ({"tpslMode": "Partial", "takeProfit": "61000", "tpOrderType": "Limit"}, "tpLimitPrice"),
    ({"tpslMode": "Partial", "takeProfit": "61000", "tpOrderType": "Limit", "tpLimitPrice": "61000.05"}, "tickSize"),
    ({"tpslMode": "Half", "takeProfit": "61000"}, "tpslMode"),
])
def test_create_refusals(api, params, text):
    r = api.post("/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01", **params)
    assert r["retCode"] == 10001 and text in r["retMsg"], r
    assert api.sim.exchange.positions["BTCUSDT"].size == 0


@settings(max_examples=40, deadline=None)
@given(side=st.sampled_from(["Buy", "Sell"]), legs=st.lists(st.tuples(st.booleans(), st.integers(50, 1500),
       st.integers(1, 10), st.booleans()), min_size=1, max_size=5),
       path=st.lists(st.integers(57_000, 63_000), min_size=1, max_size=12), cut=st.integers(0, 15))
def test_partial_orders_never_close_more_than_the_position(side, legs, path, cut):
    """Whatever TP/SL are added and however the price moves: system orders only reduce (the position never
    flips or grows through them), no Partial order stays live without a position, and fills never exceed qty."""
    sim = make_sim(rate_limits=False, book=BookParams(level_notional=D("600")))
    ex = sim.exchange
    long = side == "Buy"
    ex.place_order(OrderRequest("BTCUSDT", side, "Market", D("0.02")))
    for tp, dist, tenths, limit in legs:
        level = D(60000 + (dist if tp == long else -dist))
        kind = "PartialTakeProfit" if tp else "PartialStopLoss"
        add(ex, "BTCUSDT", [Leg(kind, level, "LastPrice", level if limit else D(0))], D(tenths) / 1000)
    if cut:
        ex.place_order(OrderRequest("BTCUSDT", "Sell" if long else "Buy", "Market", D(min(cut, 20)) / 1000,
                                    reduce_only=True))
    for p in path:
        before = ex.positions["BTCUSDT"]
        size_before, side_before = before.size, before.side
        n = len(ex.executions)
        sim.set_price("BTCUSDT", D(p))
        pos = ex.positions["BTCUSDT"]
        assert pos.size <= size_before and (not pos.size or pos.side == side_before)
        assert sum((e.exec_qty for e in ex.executions[n:]), D(0)) <= size_before
        live = [o for o in ex.open_orders("BTCUSDT") if o.stop_order_type.startswith("Partial")]
        assert not live or pos.size
        assert all(o.cum_qty <= o.qty for o in ex.orders.values())
    gross = sum((e.exec_pnl for e in ex.executions), D(0))
    fees = sum((e.exec_fee for e in ex.executions), D(0))
    assert abs(ex.wallet - (D(10000) + gross - fees)) < D("1e-12")  # every cent is explained by the fills
