"""Mark price series, MarkPrice triggers, breakEvenPrice, liqPrice and takeover liquidation (cross margin, UNIFIED).

Rules from Bybit's docs (../shared/reference/bybit-docs/):
- position/position.mdx: markPrice; breakEvenPrice = (entry_price*qty - realized_pnl) /
  (qty - abs(qty)*max(taker fee rate, 0.00055)); liqPrice is an *estimate* under cross margin and "" when
  <= minPrice or >= maxPrice; unrealisedPnl / positionIM/MM by mark price.
- position/trading-stop.mdx + enum.mdx (triggerBy): tpTriggerBy / slTriggerBy LastPrice, MarkPrice, IndexPrice.
- account/wallet-balance.mdx: accountMMRate = maintenance margin / equity; market/risk-limit.mdx: tier-1
  maintenanceMargin 0.5 %. Liquidation when the mark price reaches the liquidation price (MM rate 100 %).
- enum.mdx: execType BustTrade ("Takeover liquidation"), createType CreateByTakeOver_PassThrough (closed at the
  bankruptcy price), cancelType CancelAllBeforeLiq; position/close-pnl.mdx: execType BustTrade.
- market/mark-kline.mdx: not simulated -> a clear error (proving/sim/__init__.py lists it).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proving.sim import SimRejection
from proving.sim.exchange import OrderRequest
from proving.sim.liquidation import position_liq_price
from proving.sim.margin import MARK_POINTS, MMR
from tests.sim.helpers import SyncApi, make_sim

D = Decimal
SYM = {"category": "linear", "symbol": "BTCUSDT"}


@pytest.fixture
def api():
    sim = make_sim(balance=D("1000"))
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        a = SyncApi(c)
        a.sim = sim  # type: ignore[attr-defined]
        yield a


def _pos(api: SyncApi) -> dict:
    return api.ok("GET", "/v5/position/list", **SYM)["list"][0]


def test_mark_price_is_its_own_smoothed_series(api):
    api.sim.set_price("BTCUSDT", "61000")
    t = api.get("/v5/market/tickers", **SYM)["result"]["list"][0]
    # mean of the last MARK_POINTS path points: (60000 * 3 + 61000) / 4
    assert t["lastPrice"] == "61000" and t["markPrice"] == "60250" and t["indexPrice"] == "60250"
    for _ in range(MARK_POINTS - 1):
        api.sim.set_price("BTCUSDT", "61000")
    assert api.get("/v5/market/tickers", **SYM)["result"]["list"][0]["markPrice"] == "61000"


def test_upl_and_break_even_price(api):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01")
    api.sim.set_price("BTCUSDT", "60400")
    p = _pos(api)
    assert p["markPrice"] == "60100" and D(p["unrealisedPnl"]) == D("1")  # by mark, not by last (4)
    realised = D(p["curRealisedPnl"])
    assert realised == D("-0.33")
    be = (D(60000) * D("0.01") - realised) / (D("0.01") - D("0.01") * D("0.00055"))
    assert D(p["breakEvenPrice"]) == be.quantize(D("1e-8"))
    api.ok("POST", "/v5/order/create", **SYM, side="Sell", orderType="Market", qty="0.01", reduceOnly=True)
    api.ok("POST", "/v5/order/create", **SYM, side="Sell", orderType="Market", qty="0.01")
    short = _pos(api)
    q = -D("0.01")
    be = (D(60400) * q - D(short["curRealisedPnl"])) / (q - D("0.01") * D("0.00055"))
    assert D(short["breakEvenPrice"]) == be.quantize(D("1e-8")) and D(short["breakEvenPrice"]) < D(60400)


@pytest.mark.parametrize("trigger_by", ["MarkPrice", "IndexPrice"])  # the simulator's index = its mark
def test_mark_price_stop_triggers_on_the_mark_not_the_last(api, trigger_by):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01", stopLoss="59000",
           slTriggerBy=trigger_by)
    api.sim.set_price("BTCUSDT", "58800")  # last through the stop, mark (59700) is not
    assert _pos(api)["size"] == "0.01"
    api.sim.set_price("BTCUSDT", "58800")  # mark 59400
    api.sim.set_price("BTCUSDT", "58800")  # mark 59100
    assert _pos(api)["size"] == "0.01"
    api.sim.set_price("BTCUSDT", "58800")  # mark 58800 <= 59000: fires, fills at the last price
    assert _pos(api)["size"] == "0"
    fill = api.ok("GET", "/v5/execution/list", **SYM)["list"][0]
    assert (fill["stopOrderType"], fill["execPrice"], fill["markPrice"]) == ("StopLoss", "58800", "58800")
    with_last = api.post("/v5/position/trading-stop", **SYM, tpslMode="Full", positionIdx=0, stopLoss="1")
    assert with_last["retCode"] == 10001  # no position


def test_mark_price_tp_is_checked_against_the_mark(api):
    api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty="0.01")
    api.sim.set_price("BTCUSDT", "60800")  # mark 60200
    bad = api.post("/v5/position/trading-stop", **SYM, tpslMode="Full", positionIdx=0, takeProfit="60100",
                   tpTriggerBy="MarkPrice")
    assert bad["retCode"] == 10001 and "MarkPrice" in bad["retMsg"]
    api.ok("POST", "/v5/position/trading-stop", **SYM, tpslMode="Full", positionIdx=0, takeProfit="60300",
           tpTriggerBy="MarkPrice")
    stop = api.ok("GET", "/v5/order/realtime", **SYM, orderFilter="StopOrder")["list"][0]
    assert (stop["stopOrderType"], stop["triggerBy"]) == ("TakeProfit", "MarkPrice")


@pytest.mark.parametrize("side", ["Buy", "Sell"])
def test_liq_price_and_takeover_liquidation(api, side):
    sim = api.sim
    long = side == "Buy"
    api.ok("POST", "/v5/order/create", **SYM, side=side, orderType="Market", qty="0.15",
           stopLoss="40000" if long else "80000")
    api.ok("POST", "/v5/order/create", **SYM, side=side, orderType="Limit", qty="0.001",
           price="50000" if long else "70000", orderLinkId="resting")
    wallet, q, e = sim.exchange.wallet, D("0.15"), D(60000)
    if long:  # equity = maintenance margin: W + (P - e)q = q·P·MMR
        liq = ((q * e - wallet) / (q * (1 - MMR)) / D("0.1")).to_integral_value(rounding=ROUND_CEILING) * D("0.1")
    else:  # W - (P - e)q = q·P·MMR
        liq = ((wallet + q * e) / (q * (1 + MMR)) / D("0.1")).to_integral_value(rounding=ROUND_FLOOR) * D("0.1")
    p = _pos(api)
    assert D(p["liqPrice"]) == liq and D(p["positionMM"]) == q * e * MMR
    safe = liq + 10 if long else liq - 10
    for _ in range(MARK_POINTS):
        sim.set_price("BTCUSDT", str(safe))
    assert _pos(api)["size"] == "0.15" and _pos(api)["markPrice"] == str(safe)
    w = api.ok("GET", "/v5/account/wallet-balance", accountType="UNIFIED")["list"][0]
    assert D("0.9") < D(w["accountMMRate"]) < 1  # close to, not at, the maintenance margin
    beyond = liq - D("0.1") if long else liq + D("0.1")
    for _ in range(MARK_POINTS):
        sim.set_price("BTCUSDT", str(beyond))
    assert _pos(api)["size"] == "0"
    fill = api.ok("GET", "/v5/execution/list", **SYM)["list"][0]
    assert fill["execType"] == "BustTrade" and fill["closedSize"] == "0.15"
    order = api.ok("GET", "/v5/order/history", **SYM, orderId=fill["orderId"])["list"][0]
    assert order["createType"] == "CreateByTakeOver_PassThrough" and order["orderStatus"] == "Filled"
    pnl = api.ok("GET", "/v5/position/closed-pnl", **SYM)["list"][0]
    assert pnl["execType"] == "BustTrade" and pnl["avgExitPrice"] == fill["execPrice"]
    resting = api.ok("GET", "/v5/order/history", **SYM, orderLinkId="resting")["list"][0]
    assert (resting["orderStatus"], resting["cancelType"]) == ("Cancelled", "CancelAllBeforeLiq")
    left = sim.exchange.wallet
    assert D(0) <= left < q * D("0.1")  # closed at the bankruptcy price: the margin is gone
    assert api.ok("GET", "/v5/order/realtime", **SYM)["list"] == []  # the stop-loss order was cleared


def test_mark_price_kline_is_not_simulated(api):
    r = api.get("/v5/market/mark-price-kline", **SYM, interval="5")
    assert r["retCode"] == 10001 and "not simulated" in r["retMsg"]


@settings(max_examples=40, deadline=None)
@given(side=st.sampled_from(["Buy", "Sell"]), qty=st.integers(1, 160),
       path=st.lists(st.integers(40_000, 80_000), min_size=1, max_size=20))
def test_liquidation_invariants(side, qty, path):
    """Whatever the path: the wallet never goes negative, every cent is explained by executions and closed-pnl,
    and a position is liquidated exactly when its mark price reaches its liqPrice."""
    sim = make_sim(balance=D("1000"), rate_limits=False)
    ex = sim.exchange
    try:
        ex.place_order(OrderRequest("BTCUSDT", side, "Market", D(qty) / 1000))
    except SimRejection:
        return
    for p in path:
        pos = ex.positions["BTCUSDT"]
        sim.set_price("BTCUSDT", D(p))
        liq, mark = position_liq_price(ex, "BTCUSDT"), ex.mark["BTCUSDT"]
        if pos.size and liq is not None:
            assert (mark > liq) if pos.side == "Buy" else (mark < liq)  # still open: not yet at liqPrice
        assert ex.wallet >= 0
        fees = sum((e.exec_fee for e in ex.executions), D(0))
        assert ex.wallet == D(1000) + sum((e.exec_pnl for e in ex.executions), D(0)) - fees
    bust = [c for c in ex.closed if c.exec_type == "BustTrade"]
    assert len(bust) <= 1 and (not bust or not ex.positions["BTCUSDT"].size)
