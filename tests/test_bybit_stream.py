"""The WebSocket stream client against a local `websockets` server speaking Bybit's protocol.

Rules from shared/reference/bybit-docs/websocket/: wss-authentication.mdx (auth, ping, subscribe acks, URLs),
private/{order,execution,position,wallet}.mdx, public/{kline,ticker,orderbook}.mdx; demo URLs from demo.mdx.
"""

from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

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
    stream_urls,
    ticker_topic,
)
from tradebot.bybit.stream.messages import BookGap, LocalBook

KEY, SECRET = "ws-key", "ws-secret"

EXEC = {"category": "linear", "symbol": "BTCUSDT", "closedSize": "0.5", "execFee": "26.3725275",
        "execId": "0ab1bdf7-4219-438b-b30a-32ec863018f7", "execPrice": "95900.1", "execQty": "0.5",
        "execType": "Trade", "execValue": "47950.05", "feeRate": "0.00055", "leavesQty": "0",
        "orderId": "9aac161b", "orderLinkId": "", "orderPrice": "94942.5", "orderQty": "0.5",
        "orderType": "Market", "stopOrderType": "UNKNOWN", "side": "Sell", "execTime": "1746270400353",
        "isMaker": False, "seq": 140612148849382, "execPnl": "0.05", "createType": "CreateByUser"}
ORDER = {"category": "linear", "symbol": "BTCUSDT", "orderId": "9aac161b", "side": "Sell", "orderType": "Market",
         "price": "94942.5", "qty": "0.5", "orderStatus": "Filled", "orderLinkId": "", "leavesQty": "0",
         "cumExecQty": "0.5", "cumExecValue": "47950.05", "avgPrice": "95900.1", "cumExecFee": "",
         "cumFeeDetail": {"USDT": "26.3725275"}, "reduceOnly": True, "stopOrderType": "StopLoss",
         "createdTime": "1746270400300", "updatedTime": "1746270400353", "rejectReason": "EC_NoError"}
POSITION = {"category": "linear", "symbol": "BTCUSDT", "side": "", "size": "0", "entryPrice": "0",
            "leverage": "10", "positionValue": "0", "markPrice": "28184.5", "takeProfit": "0", "stopLoss": "0",
            "trailingStop": "0", "unrealisedPnl": "0", "curRealisedPnl": "1.26", "cumRealisedPnl": "-25.06579337",
            "positionIdx": 0, "positionStatus": "Normal", "updatedTime": "1697682317038", "seq": 8327597863}
WALLET = {"accountType": "UNIFIED", "totalEquity": "10262.91335023", "totalWalletBalance": "9684.46297164",
          "totalAvailableBalance": "9556.6056555", "totalPerpUPL": "0", "totalInitialMargin": "0",
          "totalMaintenanceMargin": "0", "coin": [{"coin": "USDT", "walletBalance": "9684.46", "equity": "9684.46"}]}
SPOT_ORDER = ORDER | {"category": "spot", "orderId": "spot-1"}


class FakeBybit:
    """A scripted Bybit stream server: checks auth, acks ops, pongs, and pushes what the test queues."""

    def __init__(self, *, refuse_auth: bool = False) -> None:
        self.refuse_auth = refuse_auth
        self.ops: list[dict[str, Any]] = []
        self.conns: list[ServerConnection] = []
        self.subscribed = asyncio.Event()
        self.on_subscribe: list[dict[str, Any]] = []  # pushed right after each subscribe ack
        self.ack_pings = True

    async def handler(self, ws: ServerConnection) -> None:
        self.conns.append(ws)
        async for raw in ws:
            msg = json.loads(raw)
            self.ops.append(msg)
            op, args = msg.get("op"), msg.get("args", [])
            if op == "auth":
                ok = not self.refuse_auth and args[0] == KEY and args[2] == ws_auth_signature(SECRET, args[1])
                await ws.send(json.dumps({"success": ok, "ret_msg": "" if ok else "Invalid apikey", "op": "auth",
                                          "conn_id": "c1"}))
            elif op in ("subscribe", "unsubscribe"):
                await ws.send(json.dumps({"success": True, "ret_msg": "", "op": op, "req_id": msg.get("req_id", ""),
                                          "conn_id": "c1"}))
                if op == "subscribe":
                    for m in self.on_subscribe:
                        await ws.send(json.dumps(m))
                    self.subscribed.set()
            elif op == "ping" and self.ack_pings:
                await ws.send(json.dumps({"req_id": msg.get("req_id"), "op": "pong", "args": ["1"], "conn_id": "c"}))

    async def push(self, msg: dict[str, Any]) -> None:
        await self.conns[-1].send(json.dumps(msg))


async def _run(fake: FakeBybit, path: str, factory: Any):
    server = await serve(fake.handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    events: list[StreamEvent] = []
    connects: list[int] = []

    async def on_event(ev: StreamEvent) -> None:
        events.append(ev)

    async def on_connect(n: int) -> None:
        connects.append(n)

    stream = factory(f"ws://127.0.0.1:{port}{path}", on_event, on_connect)
    stream.start()
    return server, stream, events, connects



def _private(url: str, on_event: Any, on_connect: Any, **kw: Any):
    return private_stream(url, KEY, SECRET, on_event, on_connect=on_connect,
                          backoff=Backoff(base=0.02, cap=0.1), seed=1, **kw)


async def test_private_auth_subscribe_and_typed_decimal_messages():
    fake = FakeBybit()
    server, stream, events, connects = await _run(fake, "/v5/private", _private)
    try:
        await until(lambda: connects == [1])
        auth = fake.ops[0]
        assert auth["op"] == "auth" and auth["args"][0] == KEY
        assert auth["args"][2] == ws_auth_signature(SECRET, auth["args"][1])
        subs = [a for m in fake.ops if m["op"] == "subscribe" for a in m["args"]]
        assert subs == ["order", "execution", "position", "wallet"]
        await fake.push({"id": "1", "topic": "order", "creationTime": 1746270400355, "data": [ORDER, SPOT_ORDER]})
        await fake.push({"id": "2", "topic": "execution", "creationTime": 1746270400356, "data": [EXEC]})
        await fake.push({"id": "3", "topic": "position", "creationTime": 1746270400357, "data": [POSITION]})
        await fake.push({"id": "4", "topic": "wallet", "creationTime": 1746270400358, "data": [WALLET]})
        await until(lambda: len(events) == 4)
        orders, execs, pos, wallet = events
        assert isinstance(orders, Orders) and [o.order_id for o in orders.rows] == ["9aac161b"]  # spot filtered
        assert orders.rows[0].cum_exec_fee == Decimal("26.3725275") and orders.rows[0].stop_order_type == "StopLoss"
        assert isinstance(execs, Executions) and execs.rows[0].exec_price == Decimal("95900.1")
        assert execs.rows[0].closed_size == Decimal("0.5") and execs.ts_ms == 1746270400356
        assert isinstance(pos, Positions) and not pos.rows[0].is_open
        assert pos.rows[0].cum_realised_pnl == Decimal("-25.06579337")
        assert isinstance(wallet, WalletUpdate) and wallet.wallet.available == Decimal("9556.6056555")
        assert stream.status().state == "live" and stream.last_exchange_ms == 1746270400358
    finally:
        await stream.stop()
        server.close()


async def test_refused_auth_never_subscribes_and_reports_down():
    fake = FakeBybit(refuse_auth=True)
    server, stream, events, connects = await _run(fake, "/v5/private", _private)
    try:
        await until(lambda: stream.state == "down")
        st = stream.status()
        assert "auth refused" in st.error and "Invalid apikey" in st.error and SECRET not in st.error
        assert not any(m["op"] == "subscribe" for m in fake.ops) and connects == []
    finally:
        await stream.stop()
        server.close()


async def test_reconnect_resubscribes_and_calls_the_reconcile_hook_each_time():
    fake = FakeBybit()
    server, stream, events, connects = await _run(fake, "/v5/private", _private)
    try:
        await until(lambda: connects == [1])
        await fake.conns[-1].close()  # the exchange drops us
        await until(lambda: connects == [1, 2])
        assert [m["op"] for m in fake.ops].count("auth") == 2
        assert [m["args"] for m in fake.ops if m["op"] == "subscribe"][-1] == ["order", "execution", "position",
                                                                                 "wallet"]
        assert stream.status().reconnects == 1 and stream.state == "live"
    finally:
        await stream.stop()
        server.close()


async def test_pings_every_interval_and_a_silent_server_is_dropped():
    fake = FakeBybit()
    server, stream, events, connects = await _run(fake, "/v5/private",
                                                  lambda u, e, c: _private(u, e, c, ping_seconds=0.05))
    try:
        await until(lambda: sum(m["op"] == "ping" for m in fake.ops) >= 2)
        fake.ack_pings = False  # pongs stop: after 2 intervals of silence the client reconnects
        await until(lambda: len(connects) >= 2)
    finally:
        await stream.stop()
        server.close()


def _public(topics: list[str]):
    def make(url: str, on_event: Any, on_connect: Any):
        return public_stream(url, topics, on_event, on_connect=on_connect, backoff=Backoff(0.02, 0.1), seed=1)
    return make


KLINE = {"topic": "kline.5.BTCUSDT", "type": "snapshot", "ts": 1672324988882, "data": [
    {"start": 1672324800000, "end": 1672325099999, "interval": "5", "open": "16649.5", "close": "16677",
     "high": "16677", "low": "16608", "volume": "2.081", "turnover": "34666.4005", "confirm": False,
     "timestamp": 1672324988882}]}
TICKER = {"topic": "tickers.BTCUSDT", "type": "snapshot", "cs": 1, "ts": 1, "data": {
    "symbol": "BTCUSDT", "lastPrice": "66666.60", "markPrice": "66666.60", "indexPrice": "66660",
    "bid1Price": "66666.60", "ask1Price": "66666.70", "fundingRate": "-0.005", "volume24h": "73191.3870"}}
BOOK = {"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1, "cts": 1, "data": {
    "s": "BTCUSDT", "b": [["100.0", "1"], ["99.9", "2"]], "a": [["100.1", "3"], ["100.2", "4"]], "u": 10, "seq": 5}}


async def test_public_kline_confirm_ticker_merge_and_book_deltas():
    topics = [kline_topic("5", "BTCUSDT"), ticker_topic("BTCUSDT"), book_topic(50, "BTCUSDT")]
    fake = FakeBybit()
    server, stream, events, connects = await _run(fake, "/v5/public/linear", _public(topics))
    try:
        await until(lambda: connects == [1])
        assert not any(m["op"] == "auth" for m in fake.ops)
        await fake.push(KLINE)
        closed = KLINE | {"data": [KLINE["data"][0] | {"confirm": True}]}
        await fake.push(closed)
        await fake.push(TICKER)
        await fake.push({"topic": "tickers.BTCUSDT", "type": "delta", "cs": 2, "ts": 2,
                         "data": {"symbol": "BTCUSDT", "lastPrice": "66700.1"}})
        await fake.push(BOOK)
        await fake.push({"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 2, "data": {
            "s": "BTCUSDT", "b": [["100.0", "0"], ["99.95", "7"]], "a": [["100.1", "2.5"]], "u": 11, "seq": 6}})
        await until(lambda: len(events) == 6)
        k1, k2, t1, t2, b1, b2 = events
        assert isinstance(k1, Candle) and not k1.confirm and k2.confirm and k1.kline.close == Decimal("16677")
        assert (k1.symbol, k1.interval, k1.end_ms) == ("BTCUSDT", "5", 1672325099999)
        assert isinstance(t2, TickerUpdate) and t2.ticker.last_price == Decimal("66700.1")
        assert t2.ticker.mark_price == Decimal("66666.60") and t2.ticker.funding_rate == Decimal("-0.005")
        assert isinstance(b2, BookUpdate) and b2.update_id == 11
        assert b2.book.bids == ((Decimal("99.95"), Decimal(7)), (Decimal("99.9"), Decimal(2)))
        assert b2.book.asks[0] == (Decimal("100.1"), Decimal("2.5"))
        # a gap in the update ids: the book is dropped and the topic resubscribed
        fake.on_subscribe = [BOOK | {"data": BOOK["data"] | {"u": 20}}]
        await fake.push({"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 3, "data": {
            "s": "BTCUSDT", "b": [], "a": [], "u": 13, "seq": 7}})
        await until(lambda: any(isinstance(e, BookUpdate) and e.update_id == 20 for e in events))
        ops = [(m["op"], m["args"]) for m in fake.ops if m["op"] in ("subscribe", "unsubscribe")]
        assert ops[-2:] == [("unsubscribe", ["orderbook.50.BTCUSDT"]), ("subscribe", ["orderbook.50.BTCUSDT"])]
        # topics added later are sent now and kept for reconnects
        await stream.subscribe([kline_topic("15", "ETHUSDT")])
        await until(lambda: fake.ops[-1]["args"] == ["kline.15.ETHUSDT"])
    finally:
        await stream.stop()
        server.close()


def test_local_book_rules():
    book = LocalBook("orderbook.50.BTCUSDT")
    with pytest.raises(BookGap):
        book.apply({"type": "delta", "data": {"b": [], "a": [], "u": 5}})
    book.apply(BOOK)
    assert book.apply({"type": "delta", "data": {"b": [["1", "1"]], "a": [], "u": 10}}) is None  # stale
    restart = {"type": "snapshot", "ts": 9, "data": {"s": "BTCUSDT", "b": [["50", "1"]], "a": [], "u": 1}}
    up = book.apply(restart)
    assert up is not None and up.book.bids == ((Decimal(50), Decimal(1)),) and up.book.asks == ()
    level1 = LocalBook("orderbook.1.BTCUSDT")
    one = {"type": "snapshot", "data": {"b": [["1", "1"]], "a": [["2", "1"]], "u": 7}}
    assert level1.apply(one) is not None and level1.apply(one) is not None  # same u re-pushed every 3 s


def test_urls_per_environment():
    assert stream_urls("mainnet").public == "wss://stream.bybit.com/v5/public/linear"
    assert stream_urls("mainnet").private == "wss://stream.bybit.com/v5/private"
    assert stream_urls("testnet").private == "wss://stream-testnet.bybit.com/v5/private"
    demo = stream_urls("demo")
    assert (demo.public, demo.private) == ("wss://stream.bybit.com/v5/public/linear",
                                           "wss://stream-demo.bybit.com/v5/private")
    assert stream_urls("http://127.0.0.1:8900").private == "ws://127.0.0.1:8900/v5/private"
    assert stream_urls("http://127.0.0.1:8900", "ws://127.0.0.1:8901").public == (
        "ws://127.0.0.1:8901/v5/public/linear")
    with pytest.raises(ValueError):
        stream_urls("paper")


def test_backoff_grows_caps_and_jitters():
    rng = random.Random(3)
    b = Backoff(base=0.5, cap=8)
    delays = [b.delay(n, rng) for n in range(1, 10)]
    assert 0.25 <= delays[0] <= 0.5 and all(4 <= d <= 8 for d in delays[5:])
    assert len({round(d, 6) for d in delays[5:]}) > 1  # jitter: reconnecting clients do not stampede together
    assert 4 <= b.delay(100_000, rng) <= 8  # a stream down for days: still the cap, never an overflow


async def test_a_lost_ticker_snapshot_is_asked_for_again():
    """The tickers snapshot never arrived (websocket/public/ticker.mdx: one snapshot on subscribe, then deltas of the
    changed fields): the first delta resubscribes the topic once, later deltas wait, and the new snapshot brings
    tickers back. They used to be dropped until the next reconnect, the stream looking healthy (the money model's
    long run: a break-even stop never moved by the real-time stops)."""
    fake = FakeBybit()
    server, stream, events, connects = await _run(fake, "/v5/public/linear", _public([ticker_topic("BTCUSDT")]))
    try:
        await until(lambda: connects == [1])
        fake.on_subscribe = [TICKER]
        delta = {"topic": "tickers.BTCUSDT", "type": "delta", "cs": 2, "ts": 2,
                 "data": {"symbol": "BTCUSDT", "lastPrice": "66700.1"}}
        await fake.push(delta)  # no snapshot before it
        await fake.push(delta)
        await until(lambda: len(events) == 1)
        await fake.push(delta | {"data": {"symbol": "BTCUSDT", "lastPrice": "66800"}})
        await until(lambda: len(events) == 2)
        assert [e.ticker.last_price for e in events] == [Decimal("66666.60"), Decimal("66800")]
        ops = [(m["op"], m["args"]) for m in fake.ops if m["op"] in ("subscribe", "unsubscribe")]
        assert ops == [("subscribe", ["tickers.BTCUSDT"]), ("unsubscribe", ["tickers.BTCUSDT"]),
                       ("subscribe", ["tickers.BTCUSDT"])]  # asked once, not once per delta
    finally:
        await stream.stop()
        server.close()


async def test_a_close_while_a_request_is_sent_leaves_no_unretrieved_future(caplog) -> None:
    """The socket closes while a subscribe is being sent: its pending answer is failed by the close and nobody
    awaits it. asyncio used to log "Future exception was never retrieved" (seen in the money model's long run)."""
    import gc
    import logging

    conn = public_stream("ws://127.0.0.1:9/v5/public/linear", ["tickers.BTCUSDT"], lambda ev: None)

    class Closing:
        async def send(self, _: str) -> None:
            conn._fail_acks()  # the reader saw the close meanwhile
            raise ConnectionError("closed")

    with caplog.at_level(logging.ERROR, logger="asyncio"), pytest.raises(ConnectionError):
        await conn._request(Closing(), "subscribe", ["tickers.BTCUSDT"])  # type: ignore[arg-type]
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text
