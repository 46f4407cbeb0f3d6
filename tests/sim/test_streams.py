"""The simulator's WebSocket endpoints: protocol (auth, acks, ping/pong, idle cut-off), private topics published for
every engine state change, public topics as the feed moves, and stream fault injection.

Rules: shared/reference/bybit-docs/websocket/wss-authentication.mdx (auth, acks, pong shapes, 10-minute idle
cut-off, max_active_time), private/{order,execution,position,wallet}.mdx, public/{kline,ticker,orderbook}.mdx.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from proving.sim.liquidation import position_liq_price
from proving.sim.wsserver import max_active_time
from tests.sim.helpers import KEY, SECRET, make_sim, signed_headers
from tests.waiting import until
from tradebot.bybit.auth import ws_auth_signature
from tradebot.bybit.stream import (
    Backoff,
    BookUpdate,
    Candle,
    Executions,
    Orders,
    Positions,
    StreamEvent,
    TickerUpdate,
    WalletUpdate,
    book_topic,
    kline_topic,
    private_stream,
    public_stream,
    resolve_stream_urls,
    ticker_topic,
)


def _auth_args(expires_in_ms: int = 10_000, secret: str = SECRET) -> list[Any]:
    expires = int(time.time() * 1000) + expires_in_ms
    return [KEY, expires, ws_auth_signature(secret, expires)]


async def _ask(ws: Any, msg: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(msg))
    async with asyncio.timeout(5):
        return json.loads(await ws.recv())


def _post(sim: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(body)
    return sim.router.handle("POST", path, "", signed_headers(raw), raw.encode())[2]



@pytest.fixture
def sim_ws():
    sim = make_sim(symbols=["BTCUSDT", "ETHUSDT"])
    server = sim.serve_streams()
    yield sim, server
    server.close()


async def test_private_auth_errors_acks_and_pong_shapes(sim_ws):
    sim, server = sim_ws
    async with connect(server.url + "/v5/private") as ws:
        refused = await _ask(ws, {"op": "subscribe", "args": ["order"], "req_id": "s0"})
        assert (refused["success"], refused["ret_msg"]) == (False, "Request not authorized")
        bad_sig = await _ask(ws, {"op": "auth", "args": _auth_args(secret="wrong")})
        assert (bad_sig["success"], bad_sig["op"], bad_sig["ret_msg"]) == (False, "auth", "Params Error")
        expired = await _ask(ws, {"op": "auth", "args": _auth_args(expires_in_ms=-1000)})
        assert expired["success"] is False
        ok = await _ask(ws, {"op": "auth", "args": _auth_args()})
        assert ok["success"] is True and ok["op"] == "auth" and ok["conn_id"]
        ack = await _ask(ws, {"op": "subscribe", "args": ["order", "execution", "position", "wallet"],
                              "req_id": "s1"})
        assert (ack["success"], ack["op"], ack["req_id"], ack["ret_msg"]) == (True, "subscribe", "s1", "")
        unknown = await _ask(ws, {"op": "subscribe", "args": ["greeks.nope"]})
        assert unknown["success"] is False
        pong = await _ask(ws, {"op": "ping", "req_id": "p1"})
        assert pong["op"] == "pong" and pong["req_id"] == "p1" and pong["args"][0].isdigit()
    async with connect(server.url + "/v5/public/linear") as ws:
        pong = await _ask(ws, {"op": "ping"})
        assert (pong["success"], pong["ret_msg"], pong["op"]) == (True, "pong", "ping")
        ack = await _ask(ws, {"op": "subscribe", "args": ["tickers.DOGEUSDT"], "req_id": "x"})
        assert ack["success"] is False and "tickers.DOGEUSDT" in ack["ret_msg"]
    with pytest.raises(InvalidStatus):
        async with connect(server.url + "/v5/public/spot"):
            pass


async def test_idle_clients_are_disconnected_and_pinging_ones_kept():
    sim = make_sim()
    with sim.serve_streams(idle_seconds=0.3) as server:
        async with connect(server.url + "/v5/public/linear") as idle, \
                connect(server.url + "/v5/public/linear") as alive:
            for _ in range(8):
                await _ask(alive, {"op": "ping"})
                await asyncio.sleep(0.1)
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(2):
                    await idle.recv()
            assert (await _ask(alive, {"op": "ping"}))["ret_msg"] == "pong"
    assert max_active_time("max_active_time=1m") == 60 and max_active_time("max_active_time=5s") == 30
    assert max_active_time("x=1") is None


class Recorder:
    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self.connects: list[int] = []

    async def on_event(self, ev: StreamEvent) -> None:
        self.events.append(ev)

    async def on_connect(self, n: int) -> None:
        self.connects.append(n)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def _private(server: Any, rec: Recorder):
    return private_stream(server.url + "/v5/private", KEY, SECRET, rec.on_event, on_connect=rec.on_connect,
                          backoff=Backoff(0.02, 0.1), seed=1)


async def test_every_engine_change_is_published_in_bybit_order(sim_ws):
    sim, server = sim_ws
    rec = Recorder()
    stream = _private(server, rec)
    stream.start()
    try:
        await until(lambda: rec.connects == [1])
        placed = _post(sim, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                 "orderType": "Market", "qty": "0.01", "stopLoss": "59000",
                                                 "orderLinkId": "entry-1"})
        assert placed["retCode"] == 0
        await until(lambda: len(rec.events) >= 4)
        assert [type(e) for e in rec.events[:4]] == [Orders, Executions, Positions, WalletUpdate]
        order = rec.events[0].rows[0]
        assert (order.order_link_id, order.status, order.cum_exec_qty) == ("entry-1", "Filled", Decimal("0.01"))
        fill = rec.events[1].rows[0]
        assert fill.order_link_id == "entry-1" and fill.exec_qty == Decimal("0.01")
        assert sim.state()["executions"][0]["execId"] == fill.exec_id
        assert rec.events[2].rows[0].size == Decimal("0.01") and rec.events[2].rows[0].stop_loss == Decimal(59000)
        # a resting limit: accepted (New), then cancelled
        limit = _post(sim, "/v5/order/create", {"category": "linear", "symbol": "ETHUSDT", "side": "Buy",
                                                "orderType": "Limit", "qty": "0.1", "price": "2000"})
        _post(sim, "/v5/order/cancel", {"category": "linear", "symbol": "ETHUSDT",
                                        "orderId": limit["result"]["orderId"]})
        await until(lambda: [o.status for e in rec.of(Orders) for o in e.rows if o.symbol == "ETHUSDT"]
                     == ["New", "Cancelled"])
        # the stop-loss fires: the system order, its fill, the flat position and the wallet, in that order
        n = len(rec.events)
        sim.set_price("BTCUSDT", "58900")
        await until(lambda: len(rec.events) >= n + 4)
        tail = rec.events[n:n + 4]
        assert [type(e) for e in tail] == [Orders, Executions, Positions, WalletUpdate]
        assert tail[0].rows[0].stop_order_type == "StopLoss" and tail[0].rows[0].status == "Filled"
        assert tail[1].rows[0].stop_order_type == "StopLoss" and tail[1].rows[0].exec_price == Decimal(59000)
        assert not tail[2].rows[0].is_open
        pnl = sim.state()["closed_pnl"][0]
        assert tail[3].wallet.wallet_balance == Decimal(sim.state()["wallet"]["totalWalletBalance"])
        assert Decimal(pnl["closedPnl"]) < 0
        # the stream's copy of every execution equals REST's
        rest = {e["execId"] for e in sim.state()["executions"]}
        assert {r.exec_id for e in rec.of(Executions) for r in e.rows} == rest
    finally:
        await stream.stop()


async def test_funding_and_trailing_moves_are_published():
    sim = make_sim(funding_rate=Decimal("0.0001"))
    with sim.serve_streams() as server:
        rec = Recorder()
        stream = _private(server, rec)
        stream.start()
        try:
            await until(lambda: rec.connects == [1])
            _post(sim, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                            "orderType": "Market", "qty": "0.01"})
            sim.step(100)  # crosses an 8-hour funding time (no stop on the position: it stays open)
            await until(lambda: any(r.exec_type == "Funding" for e in rec.of(Executions) for r in e.rows))
            _post(sim, "/v5/position/trading-stop", {"category": "linear", "symbol": "BTCUSDT",
                                                     "trailingStop": "500", "tpslMode": "Full", "positionIdx": 0})
            await until(lambda: any(p.trailing_stop for e in rec.of(Positions) for p in e.rows))
            n = len(rec.of(Positions))
            sim.set_price("BTCUSDT", sim.prices()["BTCUSDT"] + 300)  # the trailing stop follows the price up
            await until(lambda: len(rec.of(Positions)) > n)
        finally:
            await stream.stop()


async def test_public_kline_close_ticker_deltas_and_book_match_rest(sim_ws):
    sim, server = sim_ws
    rec = Recorder()
    topics = [kline_topic("5", "BTCUSDT"), ticker_topic("BTCUSDT"), book_topic(50, "BTCUSDT"),
              book_topic(1, "ETHUSDT")]
    stream = public_stream(server.url + "/v5/public/linear", topics, rec.on_event, on_connect=rec.on_connect,
                           backoff=Backoff(0.02, 0.1), seed=1)
    stream.start()
    try:
        await until(lambda: rec.connects == [1] and len(rec.events) >= 4)  # a snapshot for each topic
        sim.step(2)
        await until(lambda: sum(c.confirm for c in rec.of(Candle)) == 2)
        closed = [c for c in rec.of(Candle) if c.confirm]
        rest = sim.router.handle("GET", "/v5/market/kline", "category=linear&symbol=BTCUSDT&interval=5&limit=3",
                                 {}, b"")[2]["result"]["list"]
        assert [str(c.kline.start_ms) for c in closed] == [rest[2][0], rest[1][0]]
        assert [str(c.kline.close) for c in closed] == [str(Decimal(rest[2][4])), str(Decimal(rest[1][4]))]
        ticker = rec.of(TickerUpdate)[-1].ticker
        assert ticker.last_price == sim.prices()["BTCUSDT"]
        book = [b for b in rec.of(BookUpdate) if b.book.symbol == "BTCUSDT"][-1].book
        rest_book = sim.router.handle("GET", "/v5/market/orderbook", "category=linear&symbol=BTCUSDT&limit=50",
                                      {}, b"")[2]["result"]
        assert [str(p) for p, _ in book.bids] == [str(Decimal(p)) for p, _ in rest_book["b"]]
        assert [str(q) for _, q in book.asks] == [str(Decimal(q)) for _, q in rest_book["a"]]
        assert not stream.failed_topics
    finally:
        await stream.stop()


async def test_fault_injection_lose_drop_refuse_down(sim_ws):
    sim, server = sim_ws
    rec = Recorder()
    stream = _private(server, rec)
    stream.start()
    try:
        await until(lambda: rec.connects == [1])
        sim.stream_faults.configure(next_n={"lose": 1}, topics=["execution"])
        _post(sim, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                        "orderType": "Market", "qty": "0.01"})
        await until(lambda: len(rec.of(WalletUpdate)) == 1)
        assert rec.of(Executions) == [] and len(rec.of(Orders)) == 1  # exactly the one message lost
        async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim") as control:
            r = await control.post("/sim/stream-faults", json={"next_n": {"drop": 1}})
            assert r.status_code == 200 and r.json()["stream_faults"]["next_n"] == {"drop": 1}
            _post(sim, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Sell",
                                            "orderType": "Market", "qty": "0.01", "reduceOnly": True})
            await until(lambda: rec.connects == [1, 2])  # dropped mid-trade, back with the reconcile hook
            await control.post("/sim/stream-faults", json={"down": True})
            await until(lambda: stream.state == "down")
            await asyncio.sleep(0.3)
            assert stream.state == "down"  # refused while down (HTTP 503), retrying with backoff
            await control.post("/sim/stream-faults", json={"refuse_auth": True})
            await asyncio.sleep(0.3)
            assert "auth refused" in stream.status().error
            await control.post("/sim/stream-faults", json={})
            await until(lambda: stream.state == "live", limit=10)
            assert (await control.get("/sim/ws")).json() == {"url": server.url}
        sim.stream_faults.configure(delay_ms=150)
        t0 = time.monotonic()
        n = len(rec.events)
        _post(sim, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                        "orderType": "Market", "qty": "0.01"})
        await until(lambda: len(rec.events) >= n + 4)
        assert time.monotonic() - t0 >= 0.5  # 4 messages, each held back 150 ms, order kept
        assert [type(e) for e in rec.events[n:n + 4]] == [Orders, Executions, Positions, WalletUpdate]
    finally:
        await stream.stop()


async def test_client_finds_the_simulator_stream_from_the_rest_base_url(sim_ws):
    sim, server = sim_ws
    with sim.serve("127.0.0.1", 0) as http:
        urls = await resolve_stream_urls(http.url)
        assert urls.private == server.url + "/v5/private"
        assert urls.public == server.url + "/v5/public/linear"


async def test_liquidation_is_published():
    from tests.sim.test_margin import MARK_POINTS

    sim = make_sim(balance=Decimal("1000"), rate_limits=False)
    with sim.serve_streams() as server:
        rec = Recorder()
        stream = _private(server, rec)
        stream.start()
        try:
            await until(lambda: rec.connects == [1])
            _post(sim, "/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                            "orderType": "Market", "qty": "0.15"})
            liq = position_liq_price(sim.exchange, "BTCUSDT")
            assert liq is not None
            for _ in range(MARK_POINTS):  # the mark price follows the last price: the position is taken over
                sim.set_price("BTCUSDT", liq - Decimal("0.1"))
            await until(lambda: any(r.exec_type == "BustTrade" for e in rec.of(Executions) for r in e.rows))
            await until(lambda: not rec.of(Positions)[-1].rows[0].is_open)
        finally:
            await stream.stop()
