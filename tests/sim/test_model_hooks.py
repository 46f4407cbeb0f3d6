"""The simulator's hooks for the model-based money test (tests/money): a price that gaps, closed-PnL rows that lag
the fill (Bybit writes them a moment after the position message; the bot's SETTLE_DELAYS exist for that), and
market time that passes between two actions inside one candle path point."""

from __future__ import annotations

from decimal import Decimal

import httpx

from tests.sim.helpers import SyncApi, make_sim

BUY = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.01",
       "stopLoss": "59000"}


def _api(sim) -> tuple[httpx.Client, SyncApi]:
    client = httpx.Client(transport=sim.sync_transport(), base_url="http://sim")
    return client, SyncApi(client)


def test_a_gap_fills_the_stop_at_the_gapped_price_a_walk_at_its_level():
    for gap, fill in ((False, "59000"), (True, "58000")):
        sim = make_sim()
        client, api = _api(sim)
        with client:
            api.ok("POST", "/v5/order/create", **BUY)
            sim.set_price("BTCUSDT", "58000", gap=gap)
            [row] = api.ok("GET", "/v5/position/closed-pnl", category="linear")["list"]
            assert row["avgExitPrice"] == fill


def test_lagging_closed_pnl_rows_are_listed_once_released():
    sim = make_sim()
    client, api = _api(sim)
    with client:
        api.ok("POST", "/v5/order/create", **BUY)
        api.ok("POST", "/v5/order/create", **{**BUY, "side": "Sell", "qty": "0.004", "stopLoss": "",
                                              "reduceOnly": True})
        sim.lag_closed_pnl()
        sim.set_price("BTCUSDT", "58900")  # the stop closes the other 0.006
        assert api.ok("GET", "/v5/position/list", category="linear", symbol="BTCUSDT")["list"][0]["size"] == "0"
        listed = api.ok("GET", "/v5/position/closed-pnl", category="linear")["list"]
        assert [r["closedSize"] for r in listed] == ["0.004"]  # the stop's row is not written yet
        sim.release_closed_pnl()
        listed = api.ok("GET", "/v5/position/closed-pnl", category="linear")["list"]
        assert [r["closedSize"] for r in listed] == ["0.006", "0.004"]


def test_market_time_passes_between_actions_but_never_past_the_next_path_point():
    sim = make_sim()
    client, api = _api(sim)
    with client:
        t0 = sim.market_time()
        api.ok("POST", "/v5/order/create", **BUY)
        assert sim.advance_ms(1500) == t0 + 1500
        api.ok("POST", "/v5/order/create", **{**BUY, "stopLoss": ""})
        times = [int(e["execTime"]) for e in api.ok("GET", "/v5/execution/list", category="linear")["list"]]
        assert times == [t0 + 1500, t0]
        third = sim.feeds["BTCUSDT"].path_times()[1]
        assert sim.advance_ms(10**9) == third - 1  # capped: only step() reaches the path's next point
        sim.step(1)
        assert sim.market_time() == sim.feeds["BTCUSDT"].forming.start  # the next candle's open, nothing carried
        assert Decimal(sim.state()["wallet"]["totalEquity"]) > 0
