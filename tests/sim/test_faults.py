"""Fault injection: lost responses (committed), 5xx / drops / 10006 (not executed), latency, paths filter."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.sim.helpers import AsyncApi, SyncApi, make_sim, signed_headers

BUY = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.01"}


async def test_lost_response_is_committed_and_idempotent_by_link_id():
    sim = make_sim()
    async with httpx.AsyncClient(base_url="http://sim", transport=sim.transport()) as client:
        api = AsyncApi(client)
        sim.faults.configure(next_n={"lost_response": 1}, paths=["/v5/order/create"])
        with pytest.raises(httpx.ReadTimeout):
            await api.post("/v5/order/create", **BUY, orderLinkId="retry-1")
        found = await api.get("/v5/order/realtime", category="linear", orderLinkId="retry-1")
        assert found["result"]["list"][0]["orderStatus"] == "Filled"
        again = await api.post("/v5/order/create", **BUY, orderLinkId="retry-1")
        assert again["retCode"] == 110072
        assert len(sim.exchange.executions) == 1
        pos = await api.get("/v5/position/list", category="linear", symbol="BTCUSDT")
        assert pos["result"]["list"][0]["size"] == "0.01"


@pytest.mark.parametrize("kind", ["http5xx", "drop", "rate_limit"])
async def test_not_executed_faults(kind):
    sim = make_sim()
    async with httpx.AsyncClient(base_url="http://sim", transport=sim.transport()) as client:
        api = AsyncApi(client)
        sim.faults.configure(next_n={kind: 1})
        if kind == "drop":
            with pytest.raises(httpx.RemoteProtocolError):
                await api.post("/v5/order/create", **BUY, orderLinkId="f-1")
        elif kind == "http5xx":
            body = json.dumps({**BUY, "orderLinkId": "f-1"})
            r = await client.post("/v5/order/create", content=body, headers=signed_headers(body))
            assert r.status_code in (502, 503)
        else:
            r = await api.post("/v5/order/create", **BUY, orderLinkId="f-1")
            assert r["retCode"] == 10006
        assert sim.exchange.orders == {}
        ok = await api.post("/v5/order/create", **BUY, orderLinkId="f-1")  # the retry goes through once
        assert ok["retCode"] == 0


def test_http_server_faults_via_control_api():
    sim = make_sim()
    with sim.serve() as server, httpx.Client(base_url=server.url, timeout=2) as client:
        api = SyncApi(client)
        r = client.post("/sim/faults", json={"next_n": {"lost_response": 1}, "paths": ["/v5/order/create"]})
        assert r.status_code == 200
        with pytest.raises(httpx.TransportError):
            api.post("/v5/order/create", **BUY, orderLinkId="h-1")
        assert api.get("/v5/order/realtime", category="linear", orderLinkId="h-1")["result"]["list"]
        assert api.post("/v5/order/create", **BUY, orderLinkId="h-1")["retCode"] == 110072
        client.post("/sim/faults", json={"next_n": {"drop": 1}})
        with pytest.raises(httpx.TransportError):
            api.post("/v5/order/create", **BUY, orderLinkId="h-2")
        assert api.get("/v5/order/realtime", category="linear", orderLinkId="h-2")["result"]["list"] == []
        client.post("/sim/faults", json={"http5xx_prob": 1.0, "seed": 3})
        r = client.get("/v5/market/time")
        assert r.status_code in (502, 503)
        assert client.get("/sim/state").status_code == 200  # control API never faulted
        client.post("/sim/faults", json={})
        client.post("/sim/faults", json={"latency_ms": 150})
        t0 = time.monotonic()
        assert client.get("/v5/market/time").status_code == 200
        assert time.monotonic() - t0 >= 0.14
        assert client.post("/sim/faults", json={}).json()["faults"]["latency_ms"] == 0
        assert client.post("/sim/faults", json={"bogus": 1}).status_code == 400


async def test_closed_pnl_lag_holds_a_close_row_back():
    """``closed_pnl_lag_ms``: the close shows in the position and the executions at once, its closed-pnl row only
    after the lag (order/order-list.mdx: order processing is asynchronous, "the data returned may delay"), or when
    the fault is cleared. Rows booked before it was set are listed as before."""
    ahead = [0]  # ms the simulator's frozen wall clock is moved on by the test
    frozen = int(time.time() * 1000)
    sim = make_sim(wall_clock=lambda: frozen + ahead[0])
    async with httpx.AsyncClient(base_url="http://sim", transport=sim.transport()) as client:
        # requests are signed at the simulator's time: a loaded machine taking over a second to get here was
        # "timestamp ahead of the server" (10002) with the real clock
        api = AsyncApi(client, clock=lambda: frozen + ahead[0])

        async def listed() -> list[str]:
            rows = await api.get("/v5/position/closed-pnl", category="linear", symbol="BTCUSDT")
            return [r["closedSize"] for r in rows["result"]["list"]]

        sell = {**BUY, "side": "Sell", "qty": "0.004", "reduceOnly": True}
        await api.post("/v5/order/create", **BUY, orderLinkId="open-1")
        await api.post("/v5/order/create", **sell, orderLinkId="part-1")  # booked before the lag: listed
        sim.faults.configure(closed_pnl_lag_ms=1500)
        await api.post("/v5/order/create", **{**sell, "qty": "0.006"}, orderLinkId="close-1")
        pos = await api.get("/v5/position/list", category="linear", symbol="BTCUSDT")
        assert pos["result"]["list"][0]["size"] == "0"  # flat at once
        assert await listed() == ["0.004"]  # the close's row lags
        ahead[0] += 1499
        assert await listed() == ["0.004"]
        ahead[0] += 1
        assert await listed() == ["0.006", "0.004"]
        assert len(sim.state()["closed_pnl"]) == 2  # the simulator's own truth shows both throughout
        await api.post("/v5/order/create", **BUY, orderLinkId="open-2")
        await api.post("/v5/order/create", **{**sell, "qty": "0.01"}, orderLinkId="close-2")
        assert len(await listed()) == 2
        sim.faults.configure()  # cleared: every held row is listed at once
        assert len(await listed()) == 3
