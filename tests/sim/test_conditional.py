"""Position TP/SL/trailing as system conditional orders, cancel-all, amend across the book, openOnly.

Rules from Bybit's docs (../shared/reference/bybit-docs/):
- position/trading-stop.mdx: "Passing these parameters will create conditional orders by the system internally.
  The system will cancel these orders if the position is closed, and adjust the qty according to the size of
  the open position"; Full-mode TP/SL orders are modified by this API.
- order/open-order.mdx: orderFilter (`Order` active, `StopOrder` conditional), stopOrderType, triggerPrice
  ("If stopOrderType=TrailingStop, it is activate price"), triggerBy, triggerDirection (1 rise, 2 fall),
  parentOrderLinkId, openOnly (0 open orders only, 1 recent closed orders; ignored with orderId/orderLinkId).
- enum.mdx: orderStatus Untriggered / Triggered / Deactivated, createType CreateByTakeProfit/StopLoss/TrailingStop,
  cancelType CancelByTpSlTsClear ("TP/SL order cancelled when the position is cleared").
- order/cancel-all.mdx: symbol > baseCoin > settleCoin (one required for linear); orderFilter Order/StopOrder/
  OpenOrder, none = all kinds incl. TP/SL and trailing; answer {"list": [...], "success": "1"}.
- order/amend-order.mdx + order/create-order.mdx: a limit price at or through the best opposite price executes
  at once (taker); PostOnly that would take liquidity is cancelled.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proving.sim import BookParams
from proving.sim.exchange import OrderRequest
from tests.sim.helpers import SyncApi, make_sim

D = Decimal
SYM = {"category": "linear", "symbol": "BTCUSDT"}


@pytest.fixture
def api():
    sim = make_sim()
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        a = SyncApi(c)
        a.sim = sim  # type: ignore[attr-defined]
        yield a


def _stops(api: SyncApi, **kw) -> dict[str, dict]:
    rows = api.ok("GET", "/v5/order/realtime", **SYM, orderFilter="StopOrder", **kw)["list"]
    return {r["stopOrderType"]: r for r in rows}


def _enter(api: SyncApi, **kw) -> None:
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.02", orderLinkId="entry-1",
           **kw)


def test_tpsl_at_create_become_untriggered_system_orders(api):
    _enter(api, takeProfit="62000", stopLoss="58000", slTriggerBy="MarkPrice")
    stops = _stops(api)
    assert set(stops) == {"TakeProfit", "StopLoss"}
    tp, sl = stops["TakeProfit"], stops["StopLoss"]
    for o, price, by, direction in ((tp, "62000", "LastPrice", 1), (sl, "58000", "MarkPrice", 2)):
        assert o["orderStatus"] == "Untriggered" and o["triggerPrice"] == price and o["triggerBy"] == by
        assert o["triggerDirection"] == direction and o["side"] == "Sell" and o["orderType"] == "Market"
        assert o["reduceOnly"] is True and o["closeOnTrigger"] is True and o["tpslMode"] == "Full"
        assert o["qty"] == "0.02" and o["parentOrderLinkId"] == "entry-1" and o["orderLinkId"] == ""
    assert (tp["createType"], sl["createType"]) == ("CreateByTakeProfit", "CreateByStopLoss")
    # default filter = every kind; orderFilter=Order = active orders only
    assert len(api.ok("GET", "/v5/order/realtime", **SYM)["list"]) == 2
    assert api.ok("GET", "/v5/order/realtime", **SYM, orderFilter="Order")["list"] == []


def test_trading_stop_moves_the_same_order_and_adds_qty(api):
    _enter(api, stopLoss="58000")
    sl_id = _stops(api)["StopLoss"]["orderId"]
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Full", positionIdx=0, stopLoss="59000",
           takeProfit="61000")
    stops = _stops(api)
    assert stops["StopLoss"]["orderId"] == sl_id and stops["StopLoss"]["triggerPrice"] == "59000"
    assert stops["TakeProfit"]["triggerPrice"] == "61000"
    assert stops["TakeProfit"]["parentOrderLinkId"] == "entry-1"  # trading-stop does not change it
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01")
    assert {o["qty"] for o in _stops(api).values()} == {"0.03"}  # qty follows the position size
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Full", positionIdx=0, takeProfit="0")
    assert set(_stops(api)) == {"StopLoss"}
    gone = api.ok("GET", "/v5/order/history", **SYM)["list"]
    tp = next(o for o in gone if o["stopOrderType"] == "TakeProfit")
    assert (tp["orderStatus"], tp["cancelType"]) == ("Deactivated", "CancelByUser")


def test_trailing_order_shows_activation_price_then_the_trailing_level(api):
    _enter(api)
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Full", positionIdx=0, trailingStop="500",
           activePrice="61000")
    ts = _stops(api)["TrailingStop"]
    assert (ts["triggerPrice"], ts["createType"], ts["triggerDirection"]) == ("61000", "CreateByTrailingStop", 2)
    api.sim.set_price("BTCUSDT", "61400")
    ts2 = _stops(api)["TrailingStop"]
    assert ts2["orderId"] == ts["orderId"] and ts2["triggerPrice"] == "60900"
    api.sim.set_price("BTCUSDT", "60800")  # falls through 60900: the trailing order fills
    done = api.ok("GET", "/v5/order/realtime", **SYM, orderId=ts["orderId"])["list"][0]
    assert done["orderStatus"] == "Filled" and done["avgPrice"] == "60900"
    assert _stops(api) == {}


def test_stop_fill_and_clear_of_the_other_order(api):
    _enter(api, takeProfit="62000", stopLoss="58000")
    ids = {k: v["orderId"] for k, v in _stops(api).items()}
    api.sim.set_price("BTCUSDT", "57500")
    assert api.ok("GET", "/v5/order/realtime", **SYM)["list"] == []
    hist = {o["orderId"]: o for o in api.ok("GET", "/v5/order/history", **SYM)["list"]}
    sl, tp = hist[ids["StopLoss"]], hist[ids["TakeProfit"]]
    assert (sl["orderStatus"], sl["avgPrice"], sl["cumExecQty"]) == ("Filled", "58000", "0.02")
    assert (tp["orderStatus"], tp["cancelType"]) == ("Deactivated", "CancelByTpSlTsClear")
    fill = api.ok("GET", "/v5/execution/list", **SYM, orderId=ids["StopLoss"])["list"][0]
    assert (fill["stopOrderType"], fill["createType"], fill["execType"]) == ("StopLoss", "CreateByStopLoss", "Trade")


def test_manual_close_clears_the_system_orders(api):
    _enter(api, takeProfit="62000", stopLoss="58000")
    api.ok("POST", "/v5/order/create", **SYM, side="Sell", orderType="Market", qty="0", reduceOnly=True,
           closeOnTrigger=True)
    assert api.ok("GET", "/v5/order/realtime", **SYM)["list"] == []
    hist = [o for o in api.ok("GET", "/v5/order/history", **SYM)["list"] if o["stopOrderType"]]
    assert {(o["orderStatus"], o["cancelType"]) for o in hist} == {("Deactivated", "CancelByTpSlTsClear")}


def test_cancelling_a_system_order_removes_that_stop(api):
    _enter(api, takeProfit="62000", stopLoss="58000")
    tp_id = _stops(api)["TakeProfit"]["orderId"]
    api.ok("POST", "/v5/order/cancel", **SYM, orderId=tp_id)
    pos = api.ok("GET", "/v5/position/list", **SYM)["list"][0]
    assert (pos["takeProfit"], pos["stopLoss"]) == ("0", "58000")
    assert set(_stops(api)) == {"StopLoss"}


def test_cancel_all_by_filter(api):
    _enter(api, takeProfit="62000", stopLoss="58000")
    for px in ("59000", "59100"):
        api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.01", price=px)
    res = api.ok("POST", "/v5/order/cancel-all", **SYM, orderFilter="Order")
    assert res["success"] == "1" and len(res["list"]) == 2 and set(res["list"][0]) == {"orderId", "orderLinkId"}
    assert set(_stops(api)) == {"TakeProfit", "StopLoss"}  # conditional orders untouched
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.01", price="59000")
    res = api.ok("POST", "/v5/order/cancel-all", category="linear", settleCoin="USDT")  # no filter: every kind
    assert len(res["list"]) == 3 and api.ok("GET", "/v5/order/realtime", **SYM)["list"] == []
    pos = api.ok("GET", "/v5/position/list", **SYM)["list"][0]
    assert (pos["size"], pos["takeProfit"], pos["stopLoss"]) == ("0.02", "0", "0")
    assert api.ok("POST", "/v5/order/cancel-all", **SYM) == {"list": [], "success": "1"}
    missing = api.post("/v5/order/cancel-all", category="linear")
    assert missing["retCode"] == 10001


def test_amend_across_the_book_fills_at_once_as_taker():
    sim = make_sim(book=BookParams())  # real book: best ask = 60000.1
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        api = SyncApi(c)
        oid = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.01",
                     price="59900")["orderId"]
        api.ok("POST", "/v5/order/amend", **SYM, orderId=oid, price="59950")  # still below the ask: rests
        assert api.ok("GET", "/v5/order/realtime", **SYM, orderId=oid)["list"][0]["orderStatus"] == "New"
        api.ok("POST", "/v5/order/amend", **SYM, orderId=oid, price="60100")
        o = api.ok("GET", "/v5/order/realtime", **SYM, orderId=oid)["list"][0]
        assert o["orderStatus"] == "Filled" and o["avgPrice"] == "60000.1"  # the best ask, not the limit
        fill = api.ok("GET", "/v5/execution/list", **SYM, orderId=oid)["list"][0]
        assert fill["isMaker"] is False and D(fill["feeRate"]) == D("0.00055")
        post = api.ok("POST", "/v5/order/create", **SYM, side="Sell", orderType="Limit", qty="0.01",
                      price="60500", timeInForce="PostOnly")["orderId"]
        api.ok("POST", "/v5/order/amend", **SYM, orderId=post, price="59000")
        o = api.ok("GET", "/v5/order/realtime", **SYM, orderId=post)["list"][0]
        assert (o["orderStatus"], o["rejectReason"]) == ("Cancelled", "EC_PostOnlyWillTakeLiquidity")


def test_open_only(api):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.01", price="59000",
           orderLinkId="rest-1")
    done = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01")["orderId"]
    open_rows = api.ok("GET", "/v5/order/realtime", **SYM)["list"]
    assert [o["orderLinkId"] for o in open_rows] == ["rest-1"]
    closed_rows = api.ok("GET", "/v5/order/realtime", **SYM, openOnly=1)["list"]
    assert [o["orderId"] for o in closed_rows] == [done] and closed_rows[0]["orderStatus"] == "Filled"
    # ignored when querying by id
    assert api.ok("GET", "/v5/order/realtime", **SYM, orderId=done, openOnly=0)["list"][0]["orderId"] == done
    assert api.get("/v5/order/realtime", **SYM, openOnly=2)["retCode"] == 10001


def test_system_orders_and_mark_survive_a_state_file_restart(tmp_path):
    state = tmp_path / "sim.json"
    sim = make_sim(state_file=state)
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        api = SyncApi(c)
        _enter(api, takeProfit="62000", stopLoss="58000")
        sim.set_price("BTCUSDT", "60400")
        before = _stops(api)
        mark = sim.exchange.mark["BTCUSDT"]
    sim.close()
    again = make_sim(state_file=state)
    with httpx.Client(base_url="http://sim", transport=again.sync_transport()) as c:
        api = SyncApi(c)
        assert _stops(api) == before and again.exchange.mark["BTCUSDT"] == mark
        again.set_price("BTCUSDT", "57000")
        sl = api.ok("GET", "/v5/order/realtime", **SYM, orderId=before["StopLoss"]["orderId"])["list"][0]
        assert sl["orderStatus"] == "Filled"


def test_unsimulated_amends_say_so(api):
    """proving/sim/__init__.py lists them; a clear error, never a silently ignored parameter."""
    _enter(api, takeProfit="62000")
    tp_id = _stops(api)["TakeProfit"]["orderId"]
    r = api.post("/v5/order/amend", **SYM, orderId=tp_id, triggerPrice="63000")
    assert r["retCode"] == 10001 and "not simulated" in r["retMsg"]
    oid = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.01", price="59000")["orderId"]
    r = api.post("/v5/order/amend", **SYM, orderId=oid, price="59100", takeProfit="61000")
    assert r["retCode"] == 10001 and "takeProfit" in r["retMsg"] and "not simulated" in r["retMsg"]
    assert api.ok("GET", "/v5/order/realtime", **SYM, orderId=oid)["list"][0]["price"] == "59000"  # unchanged
    r = api.get("/v5/order/realtime", **SYM, orderFilter="tpslOrder")
    assert r["retCode"] == 10001 and "not simulated" in r["retMsg"]


@settings(max_examples=40, deadline=None)
@given(side=st.sampled_from(["Buy", "Sell"]), tp=st.integers(0, 3000), sl=st.integers(0, 3000),
       trail=st.integers(0, 1500), path=st.lists(st.integers(56_000, 64_000), min_size=1, max_size=15),
       add=st.booleans())
def test_system_orders_always_mirror_the_position(side, tp, sl, trail, path, add):
    """trading-stop.mdx: one system order per stop while the position has it, qty = position size, none once
    the position is closed; a stop fires at most once."""
    sim = make_sim(rate_limits=False)
    ex = sim.exchange
    long = side == "Buy"
    ex.place_order(OrderRequest("BTCUSDT", side, "Market", D("0.01"),
                                take_profit=D(60000 + tp if long else 60000 - tp) if tp else D(0),
                                stop_loss=D(60000 - sl if long else 60000 + sl) if sl else D(0)))
    if trail:
        ex.set_trading_stop("BTCUSDT", None, None, D(trail), None)
    for i, p in enumerate(path):
        sim.set_price("BTCUSDT", D(p))
        pos = ex.positions["BTCUSDT"]
        if add and i == 0 and pos.size:
            ex.place_order(OrderRequest("BTCUSDT", side, "Market", D("0.01")))
        live = [o for o in ex.open_orders("BTCUSDT") if o.stop_order_type]
        kinds = {o.stop_order_type: o for o in live}
        assert len(kinds) == len(live)
        expect = {k for k, v in (("TakeProfit", pos.take_profit), ("StopLoss", pos.stop_loss),
                                 ("TrailingStop", pos.trailing_stop)) if v and pos.size}
        assert set(kinds) == expect
        assert all(o.qty == pos.size and o.status == "Untriggered" and o.side != pos.side for o in live)
        if "TakeProfit" in kinds:
            assert kinds["TakeProfit"].trigger_price == pos.take_profit
        if "StopLoss" in kinds:
            assert kinds["StopLoss"].trigger_price == pos.stop_loss
    fired = [o for o in ex.orders.values() if o.stop_order_type and o.cum_qty]
    assert len(fired) <= 1
