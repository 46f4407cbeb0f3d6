"""The simulator's history lists follow Bybit's time-window and cursor rules, and funding settles like Bybit's.

Doc pages (../shared/reference/bybit-docs/): position/close-pnl.mdx, order/execution.mdx and order/order-list.mdx
(startTime: "startTime and endTime are not passed, return 7 days by default; only startTime is passed, return range
between startTime and startTime+7 days; only endTime is passed, return range between endTime-7 days and endTime; if
both are passed, the rule is endTime - startTime <= 7 days"); order/order-list.mdx's tip (Cancelled/Rejected/
Deactivated kept 24 hours, beyond 7 days only orders with fills); order/execution.mdx's tip (orderId/orderLinkId
take priority and other parameters are ignored); market/history-fund-rate.mdx and enum.mdx#exectype (funding every
8 hours, at 00:00/08:00/16:00 UTC, as execType Funding).
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from tests.sim.helpers import SyncApi, make_sim

DAY = 86_400_000
T0 = 1_750_032_000_000  # 2025-06-16 00:00 UTC
PATHS = ("/v5/position/closed-pnl", "/v5/execution/list", "/v5/order/history")


def daily(n: int) -> list[tuple[int, str, str, str, str, str]]:
    return [(T0 + i * DAY, "60000", "60010", "59990", "60000", "1") for i in range(n)]


@pytest.fixture
def api():
    """Thirty days of market time, one round trip (Buy then Sell) per day at the day's open."""
    sim = make_sim(candles={"BTCUSDT": daily(40)}, rate_limits=False)
    client = httpx.Client(transport=sim.sync_transport(), base_url="http://sim")
    a = SyncApi(client)
    a.sim = sim  # type: ignore[attr-defined]
    for day in range(30):
        for side in ("Buy", "Sell"):
            a.ok("POST", "/v5/order/create", category="linear", symbol="BTCUSDT", side=side, orderType="Market",
                 qty="0.01")
        sim.step(1)
    yield a
    client.close()
    sim.close()


def times(api: SyncApi, path: str, **params: object) -> list[int]:
    field = {"/v5/position/closed-pnl": "createdTime", "/v5/execution/list": "execTime",
             "/v5/order/history": "createdTime"}[path]
    rows: list[int] = []
    cursor = ""
    while True:
        res = api.ok("GET", path, category="linear", symbol="BTCUSDT", limit=50, **params,
                     **({"cursor": cursor} if cursor else {}))
        rows += [int(r[field]) for r in res["list"]]
        cursor = res["nextPageCursor"]
        if not cursor:
            return rows


@pytest.mark.parametrize("path", PATHS)
def test_seven_day_window_rules(api, path):
    now = api.sim.market_time()  # day 30 00:00
    assert now == T0 + 30 * DAY
    every = [T0 + d * DAY for d in range(30)]  # one closed-pnl row / two fills / two orders per day, at its open
    per_day = 1 if path == "/v5/position/closed-pnl" else 2

    def days(rows: list[int]) -> list[int]:
        assert rows == sorted(rows, reverse=True)  # newest first
        return sorted({(t - T0) // DAY for t in rows})

    # neither bound: the last 7 days
    got = times(api, path)
    assert days(got) == [23, 24, 25, 26, 27, 28, 29] and len(got) == 7 * per_day
    # only startTime: [start, start + 7 days]
    assert days(times(api, path, startTime=every[2])) == list(range(2, 10))
    # only endTime: [end - 7 days, end]
    assert days(times(api, path, endTime=every[20])) == list(range(13, 21))
    # both, within 7 days
    assert days(times(api, path, startTime=every[5], endTime=every[8] + 1)) == [5, 6, 7, 8]
    # both, wider than 7 days: rejected
    wide = api.get(path, category="linear", symbol="BTCUSDT", startTime=every[0], endTime=every[0] + 7 * DAY + 1)
    assert wide["retCode"] == 10001 and "7 days" in wide["retMsg"]
    exact = api.get(path, category="linear", symbol="BTCUSDT", startTime=every[0], endTime=every[0] + 7 * DAY)
    assert exact["retCode"] == 0
    backwards = api.get(path, category="linear", symbol="BTCUSDT", startTime=every[3], endTime=every[2])
    assert backwards["retCode"] == 10001


def test_execution_by_order_id_ignores_the_window(api):
    """order/execution.mdx tip: orderId > orderLinkId > symbol ...; with an id the other parameters are ignored."""
    first = api.sim.exchange.executions[0]
    rows = api.ok("GET", "/v5/execution/list", category="linear", orderId=first.order_id)["list"]
    assert [r["execId"] for r in rows] == [first.exec_id]


def test_order_history_retention(api):
    """order/order-list.mdx tip: unfilled Cancelled orders only for 24 hours; beyond 7 days only orders with fills."""
    sim = api.sim
    api.ok("POST", "/v5/order/create", category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit",
           qty="0.01", price="50000", orderLinkId="never-filled")
    api.ok("POST", "/v5/order/cancel", category="linear", symbol="BTCUSDT", orderLinkId="never-filled")
    assert api.ok("GET", "/v5/order/history", category="linear", orderLinkId="never-filled")["list"]
    sim.step(2)  # two days later
    assert api.ok("GET", "/v5/order/history", category="linear", orderLinkId="never-filled")["list"] == []
    assert api.ok("GET", "/v5/order/history", category="linear", symbol="BTCUSDT")["list"]  # filled ones stay


@pytest.mark.parametrize("path", PATHS)
def test_cursor_stays_stable_while_new_rows_arrive(api, path):
    """A row never appears on two pages, even when new rows arrive between page requests."""
    first = api.ok("GET", path, category="linear", symbol="BTCUSDT", limit=3)
    seen = [r.get("execId") or r["orderId"] for r in first["list"]]
    for side in ("Buy", "Sell"):  # new rows, newer than everything on page one
        api.ok("POST", "/v5/order/create", category="linear", symbol="BTCUSDT", side=side, orderType="Market",
               qty="0.01")
    cursor = first["nextPageCursor"]
    while cursor:
        page = api.ok("GET", path, category="linear", symbol="BTCUSDT", limit=3, cursor=cursor)
        seen += [r.get("execId") or r["orderId"] for r in page["list"]]
        cursor = page["nextPageCursor"]
    assert len(seen) == len(set(seen))
    per_day = 1 if path == "/v5/position/closed-pnl" else 2
    assert len(seen) == 7 * per_day  # the whole 7-day window, exactly once; the new rows are on no page


def test_funding_settles_at_bybit_times_inside_closed_pnl():
    """Funding every 00:00/08:00/16:00 UTC of market time, as execType Funding, and inside closedPnl."""
    sim = make_sim(candles={"BTCUSDT": [(T0 + i * 3_600_000, "60000", "60000", "60000", "60000", "1")
                                        for i in range(60)]}, rate_limits=False, funding_rate=Decimal("0.0001"))
    with httpx.Client(transport=sim.sync_transport(), base_url="http://sim") as client:
        api = SyncApi(client)
        sim.step(3)  # 03:00: opened after the 00:00 settlement (flat candles: mark = last = 60000)
        api.ok("POST", "/v5/order/create", category="linear", symbol="BTCUSDT", side="Buy", orderType="Market",
               qty="0.1")
        sim.step(30)  # 09:00 next day: 08:00, 16:00, 00:00, 08:00 crossed
        api.ok("POST", "/v5/order/create", category="linear", symbol="BTCUSDT", side="Sell", orderType="Market",
               qty="0.1", reduceOnly=True)
        funding = api.ok("GET", "/v5/execution/list", category="linear", symbol="BTCUSDT", execType="Funding")["list"]
        assert [(int(e["execTime"]) - T0) // 3_600_000 for e in funding] == [32, 24, 16, 8]
        fee = Decimal("0.1") * 60000 * Decimal("0.0001")  # a long pays a positive rate: 0.6 each time
        assert all(Decimal(e["execFee"]) == fee and e["execType"] == "Funding" for e in funding)
        [row] = api.ok("GET", "/v5/position/closed-pnl", category="linear", symbol="BTCUSDT")["list"]
        trading = Decimal(row["openFee"]) + Decimal(row["closeFee"])
        assert Decimal(row["closedPnl"]) == -trading - 4 * fee  # flat price: fees and funding only
        wallet = Decimal(api.ok("GET", "/v5/account/wallet-balance", accountType="UNIFIED")["list"][0]
                         ["totalWalletBalance"])
        assert wallet == Decimal("10000") + Decimal(row["closedPnl"])
    sim.close()


def test_order_history_needs_no_symbol_but_open_orders_do(api):
    """order/order-list.mdx lists symbol, baseCoin and settleCoin as optional (its request example is
    ``category=linear&limit=1``); only order/open-order.mdx requires one of them for linear."""
    everything = api.ok("GET", "/v5/order/history", category="linear", limit=50)["list"]
    by_symbol = api.ok("GET", "/v5/order/history", category="linear", symbol="BTCUSDT", limit=50)["list"]
    assert everything and [o["orderId"] for o in everything] == [o["orderId"] for o in by_symbol]
    res = api.get("/v5/order/realtime", category="linear")
    assert res["retCode"] == 10001 and "symbol or settleCoin or baseCoin" in res["retMsg"]
