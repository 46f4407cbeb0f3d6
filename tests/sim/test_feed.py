"""Candle path, stepping semantics, kline ordering/pagination/resampling and the book fill walk."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx

from proving.sim import BookParams, Simulator, candle_path, market_fill_price
from tests.sim.helpers import KEY, SECRET, SyncApi, make_sim

D = Decimal
CSV = str(Path(__file__).resolve().parents[2] / "data" / "sample" / "BTCUSDT_5m.csv")  # bundled real Bybit candles


def rows(n: int, start: int = 1_700_000_100_000, base: float = 100.0) -> list[tuple]:
    out = []
    price = base
    for i in range(n):
        o = price
        c = o + (1 if i % 3 else -2)
        out.append((start + i * 300_000, o, max(o, c) + 1, min(o, c) - 1, c, 10 + i))
        price = c + (0.5 if i % 4 == 0 else 0)  # occasional gap between close and next open
    return out


def test_candle_path_rule():
    assert candle_path(D(10), D(12), D(9), D(11)) == (D(10), D(9), D(12), D(11))
    assert candle_path(D(10), D(12), D(9), D(10)) == (D(10), D(9), D(12), D(10))  # flat = bullish
    assert candle_path(D(10), D(12), D(9), D(9.5)) == (D(10), D(12), D(9), D(9.5))


def test_market_fill_price_walk():
    tick = D("0.1")
    assert market_fill_price("Buy", D("0.01"), D(60000), tick) == D("60000.1")  # best ask: last + 1 tick
    assert market_fill_price("Buy", D("100"), D(60000), tick) > D(60000)
    assert market_fill_price("Sell", D("100"), D(60000), tick) < D(60000)
    big, small = market_fill_price("Buy", D(50), D(60000), tick), market_fill_price("Buy", D(10), D(60000), tick)
    assert big > small
    assert market_fill_price("Buy", D(100), D(60000), tick, BookParams.zero()) == D(60000)
    assert (market_fill_price("Buy", D(7), D(60000), tick) / tick) % 1 == 0


def test_step_semantics_and_gap_stop():
    data = rows(10)
    sim = Simulator(candles={"SOLUSDT": data}, api_key=KEY, api_secret=SECRET, book=BookParams.zero())
    f = sim.feeds["SOLUSDT"]
    assert sim.prices()["SOLUSDT"] == D("100") and sim.market_time() == data[0][0]
    assert sim.step() == 1
    assert sim.prices()["SOLUSDT"] == D(str(data[1][1])) and sim.market_time() == data[1][0]
    closed = f.closed[-1]
    assert (closed.open, closed.high, closed.low, closed.close) == tuple(D(str(v)) for v in data[0][1:5])
    assert sim.step(100) == 8  # exhausted: stays on the last candle
    assert sim.step() == 0 and sim.market_time() == data[-1][0]


def test_market_order_after_step_fills_at_next_open():
    data = rows(5)
    sim = Simulator(candles={"SOLUSDT": data}, api_key=KEY, api_secret=SECRET, book=BookParams.zero())
    sim.step()
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        api = SyncApi(c)
        api.ok("POST", "/v5/order/create", category="linear", symbol="SOLUSDT", side="Buy", orderType="Market",
               qty="1.0")
        ex = api.ok("GET", "/v5/execution/list", category="linear")["list"][0]
        assert D(ex["execPrice"]) == D(str(data[1][1])) and ex["execTime"] == str(data[1][0])


def test_kline_newest_first_pagination_and_resampling():
    sim = Simulator(candles={"BTCUSDT": CSV}, warmup=600, api_key=KEY, api_secret=SECRET)
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        def kl(**p):
            r = c.get("/v5/market/kline", params={"category": "linear", "symbol": "BTCUSDT", **p}).json()
            assert r["retCode"] == 0, r
            return r["result"]["list"]

        five = kl(interval="5")
        assert len(five) == 200 and all(len(r) == 7 and all(isinstance(x, str) for x in r) for r in five)
        starts = [int(r[0]) for r in five]
        assert starts == sorted(starts, reverse=True) and starts[0] == sim.feeds["BTCUSDT"].forming.start
        assert D(five[0][4]) == sim.prices()["BTCUSDT"]  # newest row = forming candle, close = last
        assert len(kl(interval="5", limit=1000)) == 601 and len(kl(interval="5", limit=5)) == 5
        older = kl(interval="5", end=starts[-1] - 1, limit=3)
        assert [int(r[0]) for r in older] == [starts[-1] - 300_000 * k for k in (1, 2, 3)]
        fwd = kl(interval="5", start=starts[10], limit=3)
        assert [int(r[0]) for r in fwd] == [starts[10] - 300_000 * k for k in (-2, -1, 0)]
        hour = kl(interval="60", limit=3)
        full = hour[1]
        base = [r for r in kl(interval="5", limit=1000) if int(full[0]) <= int(r[0]) < int(full[0]) + 3_600_000]
        assert len(base) == 12
        base.reverse()
        assert full[1] == base[0][1] and full[4] == base[-1][4]
        assert D(full[2]) == max(D(r[2]) for r in base) and D(full[3]) == min(D(r[3]) for r in base)
        assert D(full[5]) == sum(D(r[5]) for r in base)
        for iv in ("15", "30", "120", "240", "360", "720", "D", "W", "M"):
            assert kl(interval=iv, limit=2)
        assert c.get("/v5/market/kline?category=linear&symbol=BTCUSDT&interval=1").json()["retCode"] == 10001
        sim.step(2)
        assert int(kl(interval="5", limit=1)[0][0]) == starts[0] + 600_000


def test_random_walk_multi_symbol_step_together_and_tickers():
    sim = make_sim(symbols=["BTCUSDT", "ETHUSDT"], price={"BTCUSDT": D(60000), "ETHUSDT": D(3000)})
    assert sim.prices() == {"BTCUSDT": D(60000), "ETHUSDT": D(3000)}
    t0 = sim.market_time()
    assert sim.step(3) == 3 and sim.market_time() == t0 + 900_000
    assert {f.forming.start for f in sim.feeds.values()} == {t0 + 900_000}
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        t = c.get("/v5/market/tickers?category=linear").json()["result"]["list"]
        assert [r["symbol"] for r in t] == ["BTCUSDT", "ETHUSDT"]
        assert D(t[0]["lastPrice"]) == sim.prices()["BTCUSDT"]
        ob = c.get("/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=5").json()["result"]
        assert len(ob["a"]) == 5 and D(ob["a"][0][0]) <= D(ob["a"][1][0]) and D(ob["b"][0][0]) > D(ob["b"][1][0])
    same = make_sim(symbols=["BTCUSDT", "ETHUSDT"], price={"BTCUSDT": D(60000), "ETHUSDT": D(3000)})
    same.step(3)
    assert same.prices() == sim.prices()  # seeded: deterministic


def test_limit_order_rests_and_fills_as_maker():
    sim = make_sim()
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        api = SyncApi(c)
        api.ok("POST", "/v5/order/create", category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit",
               qty="0.01", price="59000", orderLinkId="lim-1", takeProfit="61000")
        o = api.ok("GET", "/v5/order/realtime", category="linear", symbol="BTCUSDT")["list"]
        assert o[0]["orderStatus"] == "New" and o[0]["leavesQty"] == "0.01"
        w = api.ok("GET", "/v5/account/wallet-balance", accountType="UNIFIED")["list"][0]
        assert D(w["coin"][0]["totalOrderIM"]) == D("59")
        sim.set_price("BTCUSDT", "58900")
        ex = api.ok("GET", "/v5/execution/list", category="linear")["list"][0]
        assert ex["isMaker"] is True and ex["execPrice"] == "59000" and D(ex["execFee"]) == D("0.118")
        pos = api.ok("GET", "/v5/position/list", category="linear", symbol="BTCUSDT")["list"][0]
        assert pos["takeProfit"] == "61000" and pos["avgPrice"] == "59000"
        tp_order = api.ok("GET", "/v5/order/realtime", category="linear", symbol="BTCUSDT")["list"]
        assert [(o["stopOrderType"], o["orderStatus"]) for o in tp_order] == [("TakeProfit", "Untriggered")]
        hist = api.ok("GET", "/v5/order/history", category="linear", symbol="BTCUSDT")["list"]
        assert hist[0]["orderLinkId"] == "lim-1" and hist[0]["orderStatus"] == "Filled"
        sim.set_price("BTCUSDT", "61500")  # TP fires at 61000
        pnl = api.ok("GET", "/v5/position/closed-pnl", category="linear")["list"][0]
        assert pnl["avgExitPrice"] == "61000"
        execs = api.ok("GET", "/v5/execution/list", category="linear", limit=1)
        assert execs["list"][0]["stopOrderType"] == "TakeProfit" and execs["nextPageCursor"] == "1"
        nxt = api.ok("GET", "/v5/execution/list", category="linear", limit=1, cursor="1")
        assert nxt["list"][0]["stopOrderType"] == "" and nxt["nextPageCursor"] == ""
