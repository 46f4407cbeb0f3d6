"""Every wire error code the simulator produces, each from a request that should produce it."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from proving.sim import Simulator
from tests.sim.helpers import KEY, SECRET, AsyncApi, make_sim, query, signed_headers

BUY = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.01"}


@pytest.fixture
async def env():
    sim = make_sim()
    async with httpx.AsyncClient(base_url="http://sim", transport=sim.transport()) as client:
        yield sim, client, AsyncApi(client)


def code(resp: dict) -> int:
    return resp["retCode"]


async def test_create_ok_returns_only_ids(env):
    _, _, api = env
    r = await api.post("/v5/order/create", **BUY, orderLinkId="abc-1")
    assert r["retCode"] == 0 and r["retMsg"] == "OK" and r["retExtInfo"] == {}
    assert set(r["result"]) == {"orderId", "orderLinkId"} and r["result"]["orderLinkId"] == "abc-1"
    assert isinstance(r["time"], int)


@pytest.mark.parametrize("params, msg", [
    ({**BUY, "symbol": "FOOUSDT"}, "symbol"),
    ({**BUY, "side": "buy"}, "side"),
    ({k: v for k, v in BUY.items() if k != "qty"}, "qty"),
    ({**BUY, "category": "spot"}, "category"),
    ({**BUY, "positionIdx": 1}, "position idx not match position mode"),
    ({**BUY, "positionIdx": 2}, "position idx not match position mode"),
    ({**BUY, "qty": "0.0005"}, "Qty invalid"),
    ({**BUY, "qty": "0.0001"}, "Qty invalid"),
    ({**BUY, "qty": "501"}, "maximum"),
    ({**BUY, "orderType": "Limit", "price": "59000.05"}, "tickSize"),
    ({**BUY, "orderLinkId": "x" * 37}, "orderLinkId"),
    ({**BUY, "orderLinkId": "bad id!"}, "orderLinkId"),
    ({**BUY, "takeProfit": "59000"}, "TakeProfit"),
    ({**BUY, "stopLoss": "61000"}, "StopLoss"),
])
async def test_create_10001(env, params, msg):
    _, _, api = env
    r = await api.post("/v5/order/create", **params)
    assert code(r) == 10001 and msg in r["retMsg"], r
    assert r["result"] == {}


async def test_min_qty_message():
    sim = make_sim(symbols=["ETHUSDT"], price=Decimal("3000"))
    async with httpx.AsyncClient(base_url="http://sim", transport=sim.transport()) as client:
        r = await AsyncApi(client).post("/v5/order/create", **{**BUY, "symbol": "ETHUSDT", "qty": "0"})
    assert code(r) == 10001 and "minimum limit" in r["retMsg"]


async def test_notional_below_minimum_110094(env):
    _, _, api = env
    r = await api.post("/v5/order/create", **{**BUY, "qty": "0.001", "orderType": "Limit", "price": "4000"})
    assert code(r) == 110094


async def test_insufficient_balance_110007(env):
    _, _, api = env
    r = await api.post("/v5/order/create", **{**BUY, "qty": "20"})
    assert code(r) == 110007 and r["retMsg"] == "ab not enough for new order"


async def test_reduce_only_increasing_110017(env):
    _, _, api = env
    assert code(await api.post("/v5/order/create", **BUY, reduceOnly=True)) == 110017  # flat
    assert code(await api.post("/v5/order/create", **BUY)) == 0
    assert code(await api.post("/v5/order/create", **BUY, reduceOnly=True)) == 110017  # same side


async def test_duplicate_link_id_110072(env):
    _, _, api = env
    assert code(await api.post("/v5/order/create", **BUY, orderLinkId="dup")) == 0
    assert code(await api.post("/v5/order/create", **BUY, orderLinkId="dup")) == 110072


async def test_cancel_unknown_or_final_110001(env):
    _, _, api = env
    r = await api.post("/v5/order/cancel", category="linear", symbol="BTCUSDT", orderId="nope")
    assert code(r) == 110001
    filled = (await api.post("/v5/order/create", **BUY))["result"]["orderId"]
    r = await api.post("/v5/order/cancel", category="linear", symbol="BTCUSDT", orderId=filled)
    assert code(r) == 110001
    lim = await api.post("/v5/order/create", **{**BUY, "orderType": "Limit", "price": "50000",
                                                 "orderLinkId": "lim"})
    ok = await api.post("/v5/order/cancel", category="linear", symbol="BTCUSDT", orderLinkId="lim")
    assert code(ok) == 0 and ok["result"]["orderId"] == lim["result"]["orderId"]
    again = await api.post("/v5/order/cancel", category="linear", symbol="BTCUSDT", orderLinkId="lim")
    assert code(again) == 110001


async def test_trading_stop_errors(env):
    _, _, api = env
    base = {"category": "linear", "symbol": "BTCUSDT", "tpslMode": "Full", "positionIdx": 0}
    r = await api.post("/v5/position/trading-stop", **base, stopLoss="59000")
    assert code(r) == 10001 and "zero position" in r["retMsg"]
    await api.post("/v5/order/create", **BUY)
    no_mode = {k: v for k, v in base.items() if k != "tpslMode"}
    assert code(await api.post("/v5/position/trading-stop", **no_mode, stopLoss="59000")) == 10001
    no_idx = {k: v for k, v in base.items() if k != "positionIdx"}
    assert code(await api.post("/v5/position/trading-stop", **no_idx, stopLoss="59000")) == 10001
    assert code(await api.post("/v5/position/trading-stop", **base, takeProfit="59000")) == 10001
    assert code(await api.post("/v5/position/trading-stop", **base, stopLoss="59000")) == 0
    r = await api.post("/v5/position/trading-stop", **base, stopLoss="59000")
    assert code(r) == 34040 and r["retMsg"] == "not modified"


async def test_leverage_not_modified_110043(env):
    _, _, api = env
    lev = {"category": "linear", "symbol": "BTCUSDT"}
    assert code(await api.post("/v5/position/set-leverage", **lev, buyLeverage="10", sellLeverage="10")) == 110043
    assert code(await api.post("/v5/position/set-leverage", **lev, buyLeverage="5", sellLeverage="5")) == 0
    assert code(await api.post("/v5/position/set-leverage", **lev, buyLeverage="5", sellLeverage="6")) == 10001
    assert code(await api.post("/v5/position/set-leverage", **lev, buyLeverage="101", sellLeverage="101")) == 10001


async def test_wallet_account_type(env):
    _, _, api = env
    assert code(await api.get("/v5/account/wallet-balance", accountType="UNIFIED")) == 0
    assert code(await api.get("/v5/account/wallet-balance", accountType="CONTRACT")) == 0
    assert code(await api.get("/v5/account/wallet-balance", accountType="SPOT")) == 10001
    assert code(await api.get("/v5/account/wallet-balance")) == 10001


async def test_auth_errors(env):
    sim, client, _ = env
    q = "category=linear&symbol=BTCUSDT"
    r = (await client.get(f"/v5/position/list?{q}")).json()
    assert r["retCode"] == 10003  # missing auth headers
    r = (await client.get(f"/v5/position/list?{q}", headers=signed_headers(q, key="other"))).json()
    assert r["retCode"] == 10003
    r = (await client.get(f"/v5/position/list?{q}", headers=signed_headers(q, secret="wrong"))).json()
    assert r["retCode"] == 10004 and r["retMsg"].startswith("error sign! origin_string[")
    # signature over a re-ordered query does not verify against the raw query received
    h = signed_headers("symbol=BTCUSDT&category=linear")
    assert (await client.get(f"/v5/position/list?{q}", headers=h)).json()["retCode"] == 10004
    now = int(time.time() * 1000)
    for ts in (now + 1500, now - 6000):
        r = (await client.get(f"/v5/position/list?{q}", headers=signed_headers(q, ts=ts))).json()
        assert r["retCode"] == 10002 and "req_timestamp[" in r["retMsg"] and "recv_window[5000]" in r["retMsg"]
    r = (await client.get(f"/v5/position/list?{q}", headers=signed_headers(q, ts=now - 6000, recv="10000"))).json()
    assert r["retCode"] == 0
    body = json.dumps(BUY)
    r = (await client.post("/v5/order/create", content=body + " ", headers=signed_headers(body))).json()
    assert r["retCode"] == 10004  # POST verified over the exact body bytes
    assert (await client.get("/v5/market/time")).json()["retCode"] == 0  # public needs no auth


async def test_unknown_path_404(env):
    _, client, api = env
    r = await client.get("/v5/position/set-trading-stop")
    assert r.status_code == 404
    r = await client.post("/v5/nope", content="{}", headers=signed_headers("{}"))
    assert r.status_code == 404


async def test_rate_limit_10006():
    sim = make_sim(rate_limits=True)
    async with httpx.AsyncClient(base_url="http://sim", transport=sim.transport()) as client:
        api = AsyncApi(client)
        codes = []
        for _ in range(12):
            q = query({"category": "linear", "symbol": "BTCUSDT", "orderId": "x"})
            body = json.dumps({"category": "linear", "symbol": "BTCUSDT", "orderId": "x"})
            r = await client.post("/v5/order/cancel", content=body, headers=signed_headers(body))
            codes.append(r.json()["retCode"])
            assert r.headers["X-Bapi-Limit"] == "10"
        assert codes[:10] == [110001] * 10 and codes[10:] == [10006, 10006]
        assert r.json()["retMsg"] == "Too many visits!"
        assert int(r.headers["X-Bapi-Limit-Reset-Timestamp"]) > int(time.time() * 1000) - 1000
        assert r.headers["X-Bapi-Limit-Status"] == "0"
        del q
        assert (await api.get("/v5/position/list", category="linear", symbol="BTCUSDT"))["retCode"] == 0
    off = Simulator(api_key=KEY, api_secret=SECRET, rate_limits=False)
    async with httpx.AsyncClient(base_url="http://sim", transport=off.transport()) as client:
        body = json.dumps({"category": "linear", "symbol": "BTCUSDT", "orderId": "x"})
        for _ in range(15):
            r = await client.post("/v5/order/cancel", content=body, headers=signed_headers(body))
            assert r.json()["retCode"] == 110001


async def test_market_endpoint_errors(env):
    _, client, _ = env
    r = (await client.get("/v5/market/kline?category=linear&symbol=FOO&interval=5")).json()
    assert r["retCode"] == 10001
    r = (await client.get("/v5/market/kline?category=linear&symbol=BTCUSDT&interval=7")).json()
    assert r["retCode"] == 10001
    r = (await client.get("/v5/market/instruments-info?category=linear&symbol=FOOUSDT")).json()
    assert r["retCode"] == 0 and r["result"]["list"] == []
    r = (await client.get("/v5/market/instruments-info?category=linear&symbol=BTCUSDT")).json()
    lot = r["result"]["list"][0]["lotSizeFilter"]
    assert r["result"]["list"][0]["priceFilter"]["tickSize"] == "0.10"
    assert (lot["qtyStep"], lot["minOrderQty"], lot["maxOrderQty"], lot["maxMktOrderQty"],
            lot["minNotionalValue"]) == ("0.001", "0.001", "1190.000", "500.000", "5")
