"""BybitClient against pytest-httpx: request shapes, signatures, parsing, typed errors and retry rules."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tradebot.bybit.auth import verify
from tradebot.bybit.client import BybitClient, RetryPolicy, order_link_id, resolve_base_url
from tradebot.errors import (
    AuthError,
    BybitAPIError,
    ExchangeError,
    InsufficientBalance,
    OrderRejected,
    TransportError,
)

FIX = Path(__file__).parent / "fixtures" / "bybit"
BASE = "https://api-testnet.bybit.com"
KEY, SECRET = "k3y-for-tests", "s3cret-for-tests"


def fixture(name: str) -> dict:
    return json.loads((FIX / f"{name}.json").read_text())


def ok(result: dict | None = None) -> dict:
    return {"retCode": 0, "retMsg": "OK", "result": result or {}, "retExtInfo": {}, "time": 1700000000000}


def err(code: int, msg: str) -> dict:
    return {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": 1700000000000}


def path_re(path: str) -> re.Pattern:
    return re.compile(re.escape(BASE + path) + r"(\?.*)?$")


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def client(httpx_mock):
    # the first private call syncs the clock; make that answer always available
    httpx_mock.add_response(url=path_re("/v5/market/time"), json=ok({"timeSecond": "1", "timeNano": "0"}) | {
        "result": {"timeSecond": "1700000000", "timeNano": "1700000000000000000"}}, is_optional=True,
        is_reusable=True)
    c = BybitClient("testnet", KEY, SECRET, retry=RetryPolicy(attempts=3, base_delay=0), sleep=no_sleep)
    yield c
    await c.aclose()


def assert_signed(request: httpx.Request) -> None:
    h = request.headers
    payload = request.url.query.decode() if request.method == "GET" else request.content.decode()
    assert h["X-BAPI-API-KEY"] == KEY
    assert h["X-BAPI-RECV-WINDOW"] == "5000"
    assert verify(SECRET, h["X-BAPI-TIMESTAMP"], KEY, "5000", payload, h["X-BAPI-SIGN"])


def test_base_urls():
    assert resolve_base_url("mainnet") == "https://api.bybit.com"
    assert resolve_base_url("testnet") == "https://api-testnet.bybit.com"
    assert resolve_base_url("demo") == "https://api-demo.bybit.com"
    assert resolve_base_url("http://127.0.0.1:8900/") == "http://127.0.0.1:8900"
    with pytest.raises(ValueError):
        resolve_base_url("moon")


def test_order_link_id_deterministic_and_valid():
    a = order_link_id("cf", "AbC123xyz", "entry")
    assert a == order_link_id("cf", "AbC123xyz", "entry") == "cf-AbC123xyz-entry"
    long = order_link_id("x" * 40, "entry")
    assert len(long) <= 36 and long == order_link_id("x" * 40, "entry")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", order_link_id("a b/c", "d!"))


async def test_klines_public_unsigned_reversed_to_oldest_first(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/market/kline"), json=fixture("v5_market_kline"))
    rows = await client.klines("BTCUSD", "60", limit=3)
    req = httpx_mock.get_request()
    assert req.url.query.decode() == "category=linear&interval=60&limit=3&symbol=BTCUSD"
    assert "X-BAPI-SIGN" not in req.headers
    assert [r.start_ms for r in rows] == sorted(r.start_ms for r in rows)
    assert rows[-1].start_ms == 1670608800000 and rows[-1].close == Decimal("17055.5")


async def test_instrument_rules_parsed(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/market/instruments-info"), json=fixture("v5_instruments_linear_btc"))
    inst = await client.instrument("BTCUSDT")
    assert inst.symbol == "BTCUSDT"
    assert inst.tick_size > 0 and inst.qty_step > 0 and inst.min_qty > 0 and inst.max_qty >= inst.min_qty
    assert isinstance(inst.min_notional, Decimal)


async def test_instrument_unknown_symbol(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/market/instruments-info"), json=ok({"category": "linear", "list": []}))
    with pytest.raises(ExchangeError, match="unknown symbol"):
        await client.instrument("NOPEUSDT")


async def test_ticker_and_orderbook(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/market/tickers"), json=ok({"category": "linear", "list": [{
        "symbol": "BTCUSDT", "lastPrice": "60000.5", "markPrice": "60001", "indexPrice": "59999",
        "bid1Price": "60000.4", "ask1Price": "60000.5", "fundingRate": "0.0001", "volume24h": "12.5"}]}))
    httpx_mock.add_response(url=path_re("/v5/market/orderbook"), json=ok({
        "s": "BTCUSDT", "b": [["60000.4", "1.5"], ["60000.3", "2"]], "a": [["60000.5", "0.7"]],
        "ts": 1700000000000, "u": 1, "seq": 2, "cts": 3}))
    t = await client.ticker("BTCUSDT")
    assert t.last_price == Decimal("60000.5") and t.funding_rate == Decimal("0.0001")
    book = await client.orderbook("BTCUSDT", limit=2)
    assert book.bids[0] == (Decimal("60000.4"), Decimal("1.5")) and book.asks == ((Decimal("60000.5"), Decimal("0.7")),)


async def test_place_order_signed_body_with_tpsl(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/order/create"), json=ok({"orderId": "oid-1", "orderLinkId": "L1"}))
    ack = await client.place_order(symbol="BTCUSDT", side="Buy", qty=Decimal("0.010"), order_link_id="L1",
                                   take_profit=Decimal("66000.0"), stop_loss=Decimal("57000.5"))
    assert ack.order_id == "oid-1" and ack.order_link_id == "L1"
    req = httpx_mock.get_request(url=path_re("/v5/order/create"))
    assert_signed(req)
    body = json.loads(req.content)
    assert body == {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.01",
                    "positionIdx": 0, "orderLinkId": "L1", "takeProfit": "66000", "stopLoss": "57000.5",
                    "tpslMode": "Full"}


async def test_limit_reduce_only_order_shape(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/order/create"), json=ok({"orderId": "o", "orderLinkId": "L2"}))
    await client.place_order(symbol="ETHUSDT", side="Sell", qty=Decimal("1"), order_link_id="L2", order_type="Limit",
                             price=Decimal("3000.50"), reduce_only=True, time_in_force="GTC")
    body = json.loads(httpx_mock.get_request(url=path_re("/v5/order/create")).content)
    assert body["price"] == "3000.5" and body["reduceOnly"] is True and body["timeInForce"] == "GTC"
    assert "takeProfit" not in body and "tpslMode" not in body


async def test_private_get_signature_and_orders_parse(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=fixture("v5_order_realtime"))
    order = await client.get_order("ETHUSDT", order_link_id="test-000005")
    req = httpx_mock.get_request(url=path_re("/v5/order/realtime"))
    assert_signed(req)
    assert "orderLinkId=test-000005" in req.url.query.decode()
    assert order is not None and order.symbol == "ETHUSDT" and isinstance(order.qty, Decimal)


async def test_get_order_falls_back_to_history(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=ok({"list": [], "nextPageCursor": ""}))
    httpx_mock.add_response(url=path_re("/v5/order/history"), json=fixture("v5_order_history"))
    order = await client.get_order("BTCUSDT", order_id="x")
    assert order is not None and order.status in ("Filled", "Cancelled", "New", "PartiallyFilled", "Rejected")


async def test_cancel_and_already_final(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/order/cancel"), json=ok({"orderId": "o", "orderLinkId": "L"}))
    httpx_mock.add_response(url=path_re("/v5/order/cancel"), json=err(110001, "order not exists or too late to cancel"))
    assert await client.cancel_order("BTCUSDT", order_link_id="L") is True
    assert await client.cancel_order("BTCUSDT", order_link_id="L") is False


async def test_executions_and_pagination(client, httpx_mock):
    page1 = fixture("v5_execution_list")
    page1["result"]["nextPageCursor"] = "c2"
    page2 = ok({"list": [dict(page1["result"]["list"][0], execId="second")], "nextPageCursor": ""})
    httpx_mock.add_response(url=path_re("/v5/execution/list"), json=page1)
    httpx_mock.add_response(url=path_re("/v5/execution/list"), json=page2)
    rows = await client.executions("ETHPERP")
    assert len(rows) == len(page1["result"]["list"]) + 1
    second = httpx_mock.get_requests(url=path_re("/v5/execution/list"))[1]
    assert "cursor=c2" in second.url.query.decode()
    assert all(isinstance(r.exec_price, Decimal) for r in rows)


async def test_positions_filters_flat_rows(client, httpx_mock):
    data = fixture("v5_position_list_linear")
    flat = dict(data["result"]["list"][0], symbol="SOLUSDT", side="", size="0", avgPrice="0", takeProfit="0",
                stopLoss="0")
    data["result"]["list"].append(flat)
    httpx_mock.add_response(url=path_re("/v5/position/list"), json=data)
    pos = await client.positions()
    assert "SOLUSDT" not in {p.symbol for p in pos}
    btc = next(p for p in pos if p.symbol == "BTCUSDT")
    assert btc.side == "Buy" and btc.size == Decimal("0.5") and btc.stop_loss == Decimal("48000")
    assert btc.trailing_stop is None  # "0.00" means no trailing stop


async def test_trading_stop_path_body_and_not_modified(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/position/trading-stop"), json=ok())
    httpx_mock.add_response(url=path_re("/v5/position/trading-stop"), json=err(34040, "not modified"))
    assert await client.set_trading_stop(symbol="BTCUSDT", stop_loss=Decimal("59000"),
                                         trailing_stop=Decimal("150"), active_price=Decimal("61000")) is True
    assert await client.set_trading_stop(symbol="BTCUSDT", stop_loss=Decimal("59000")) is False
    body = json.loads(httpx_mock.get_requests(url=path_re("/v5/position/trading-stop"))[0].content)
    assert body == {"category": "linear", "symbol": "BTCUSDT", "tpslMode": "Full", "positionIdx": 0,
                    "stopLoss": "59000", "trailingStop": "150", "activePrice": "61000"}


async def test_set_leverage_not_modified_is_fine(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/position/set-leverage"), json=err(110043, "leverage not modified"))
    assert await client.set_leverage("BTCUSDT", Decimal("5")) is False
    body = json.loads(httpx_mock.get_request(url=path_re("/v5/position/set-leverage")).content)
    assert body["buyLeverage"] == body["sellLeverage"] == "5"


async def test_closed_pnl_and_wallet(client, httpx_mock):
    cp = fixture("v5_position_closed_pnl")
    cp["result"]["nextPageCursor"] = ""
    httpx_mock.add_response(url=path_re("/v5/position/closed-pnl"), json=cp)
    httpx_mock.add_response(url=path_re("/v5/account/wallet-balance"), json=fixture("v5_account_wallet_balance"))
    rows = await client.closed_pnl("ETHPERP")
    assert rows[0].closed_pnl == Decimal("-47.4065323") and rows[0].position_side == "Buy"
    w = await client.wallet()
    assert "accountType=UNIFIED" in httpx_mock.get_request(url=path_re("/v5/account/wallet-balance")).url.query.decode()
    assert isinstance(w.available, Decimal) and w.total_equity > 0


@pytest.mark.parametrize(("code", "exc", "words"), [
    (10001, BybitAPIError, "parameter"),
    (10003, AuthError, "API key"),
    (10004, AuthError, "signature"),
    (110007, InsufficientBalance, "balance"),
    (110017, OrderRejected, "reduce-only"),
    (99999, BybitAPIError, "unknown Bybit error code 99999"),
])
async def test_error_envelopes_are_typed_with_meaning(client, httpx_mock, code, exc, words):
    httpx_mock.add_response(url=path_re("/v5/order/create"), json=err(code, "raw msg"))
    with pytest.raises(exc) as info:
        await client.place_order(symbol="BTCUSDT", side="Buy", qty=Decimal("1"), order_link_id="E")
    assert info.value.code == code and words in str(info.value)
    assert len(httpx_mock.get_requests(url=path_re("/v5/order/create"))) == 1  # never retried


async def test_malformed_json_and_missing_fields(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/market/tickers"), text="<html>oops</html>")
    with pytest.raises(ExchangeError, match="malformed JSON"):
        await client.ticker("BTCUSDT")
    httpx_mock.add_response(url=path_re("/v5/market/tickers"), json=ok({"list": [{"symbol": "BTCUSDT"}]}))
    with pytest.raises(ExchangeError, match="lastPrice"):
        await client.ticker("BTCUSDT")
    httpx_mock.add_response(url=path_re("/v5/market/tickers"), json=ok({"list": [{"symbol": "X", "lastPrice": "abc"}]}))
    with pytest.raises(ExchangeError, match="malformed number"):
        await client.ticker("X")


async def test_reads_retry_on_5xx_network_and_rate_limit(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/market/tickers"), status_code=502, text="bad gateway")
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=path_re("/v5/market/tickers"))
    httpx_mock.add_response(url=path_re("/v5/market/tickers"), json=err(10006, "Too many visits!"),
                            headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": "1"})
    httpx_mock.add_response(url=path_re("/v5/market/tickers"), json=ok({"list": [
        {"symbol": "BTCUSDT", "lastPrice": "1"}]}))
    c = BybitClient("testnet", retry=RetryPolicy(attempts=4, base_delay=0), sleep=no_sleep)
    try:
        assert (await c.ticker("BTCUSDT")).last_price == Decimal("1")
    finally:
        await c.aclose()
    assert len(httpx_mock.get_requests(url=path_re("/v5/market/tickers"))) == 4


async def test_rate_limit_waits_until_reset(httpx_mock):
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    now = 1_700_000_000.0
    httpx_mock.add_response(url=path_re("/v5/market/tickers"), json=err(10006, "Too many visits!"),
                            headers={"X-Bapi-Limit-Status": "0",
                                     "X-Bapi-Limit-Reset-Timestamp": str(int(now * 1000) + 800)})
    httpx_mock.add_response(url=path_re("/v5/market/tickers"), json=ok({"list": [{"symbol": "B", "lastPrice": "1"}]}))
    c = BybitClient("testnet", retry=RetryPolicy(attempts=3, base_delay=0), sleep=sleep, clock=lambda: now)
    try:
        await c.ticker("B")
    finally:
        await c.aclose()
    assert slept and 0.7 <= slept[0] <= 0.8


async def test_timestamp_error_resyncs_clock_then_retries(httpx_mock):
    now = 1_700_000_000.0
    httpx_mock.add_response(url=path_re("/v5/market/time"), json=ok({"timeSecond": "1700000000",
                                                                      "timeNano": "1700000005000000000"}),
                            is_reusable=True)
    httpx_mock.add_response(url=path_re("/v5/account/wallet-balance"), json=err(
        10002, "invalid request, please check your server timestamp or recv_window param"))
    httpx_mock.add_response(url=path_re("/v5/account/wallet-balance"), json=fixture("v5_account_wallet_balance"))
    c = BybitClient("testnet", KEY, SECRET, retry=RetryPolicy(attempts=3, base_delay=0), sleep=no_sleep,
                    clock=lambda: now)
    try:
        await c.wallet()
    finally:
        await c.aclose()
    assert len(httpx_mock.get_requests(url=path_re("/v5/market/time"))) == 2  # initial sync + resync
    stamped = httpx_mock.get_requests(url=path_re("/v5/account/wallet-balance"))[1].headers["X-BAPI-TIMESTAMP"]
    assert 1700000004000 < int(stamped) <= 1700000005000  # server is 5 s ahead; we follow, slightly behind


async def test_create_timeout_is_looked_up_not_resent(client, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("lost"), url=path_re("/v5/order/create"))
    row = fixture("v5_order_realtime")["result"]["list"][0] | {"orderLinkId": "intent-1", "orderId": "real-id"}
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=ok({"list": [row], "nextPageCursor": ""}))
    ack = await client.place_order(symbol="ETHUSDT", side="Buy", qty=Decimal("1"), order_link_id="intent-1")
    assert ack.order_id == "real-id"
    assert len(httpx_mock.get_requests(url=path_re("/v5/order/create"))) == 1
    lookup = httpx_mock.get_request(url=path_re("/v5/order/realtime"))
    assert "orderLinkId=intent-1" in lookup.url.query.decode()


async def test_create_timeout_not_found_resends_same_link_id(client, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("lost"), url=path_re("/v5/order/create"))
    empty = ok({"list": [], "nextPageCursor": ""})
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=empty)
    httpx_mock.add_response(url=path_re("/v5/order/history"), json=empty)
    httpx_mock.add_response(url=path_re("/v5/order/create"), json=ok({"orderId": "o2", "orderLinkId": "intent-2"}))
    ack = await client.place_order(symbol="ETHUSDT", side="Buy", qty=Decimal("1"), order_link_id="intent-2")
    creates = httpx_mock.get_requests(url=path_re("/v5/order/create"))
    assert ack.order_id == "o2" and len(creates) == 2
    assert {json.loads(r.content)["orderLinkId"] for r in creates} == {"intent-2"}


async def test_duplicate_link_id_returns_existing_order(client, httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/order/create"), json=err(110072, "OrderLinkedID is duplicate"))
    row = fixture("v5_order_realtime")["result"]["list"][0] | {"orderLinkId": "intent-3", "orderId": "first"}
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=ok({"list": [row], "nextPageCursor": ""}))
    ack = await client.place_order(symbol="ETHUSDT", side="Buy", qty=Decimal("1"), order_link_id="intent-3")
    assert ack.order_id == "first"


async def test_create_gives_up_after_attempts_when_network_down(client, httpx_mock):
    httpx_mock.add_exception(httpx.ConnectError("down"), url=path_re("/v5/order/create"), is_reusable=True)
    httpx_mock.add_exception(httpx.ConnectError("down"), url=path_re("/v5/order/realtime"), is_reusable=True)
    with pytest.raises(TransportError):
        await client.place_order(symbol="ETHUSDT", side="Buy", qty=Decimal("1"), order_link_id="intent-4")


async def test_missing_keys_is_a_clear_auth_error():
    c = BybitClient("testnet")
    try:
        with pytest.raises(AuthError, match="BYBIT_API_KEY"):
            await c.wallet()
    finally:
        await c.aclose()


async def test_server_time(httpx_mock):
    httpx_mock.add_response(url=path_re("/v5/market/time"), json=ok({"timeSecond": "1700000000",
                                                                      "timeNano": "1700000000123000000"}))
    async with BybitClient("testnet") as c:
        assert await c.server_time_ms() == 1700000000123


async def test_open_orders_history_and_wait(client, httpx_mock):
    rt = fixture("v5_order_realtime")
    rt["result"]["nextPageCursor"] = ""
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=rt)
    orders = await client.open_orders()
    assert orders and "settleCoin=USDT" in httpx_mock.get_requests(url=path_re("/v5/order/realtime"))[0].url.query.decode()
    hist = fixture("v5_order_history")
    hist["result"]["nextPageCursor"] = ""
    httpx_mock.add_response(url=path_re("/v5/order/history"), json=hist)
    assert await client.order_history("BTCUSDT", limit=5)

    row = rt["result"]["list"][0] | {"orderStatus": "New", "orderLinkId": "w1"}
    filled = row | {"orderStatus": "Filled", "cumExecQty": row["qty"], "avgPrice": "3000"}
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=ok({"list": [row], "nextPageCursor": ""}))
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=ok({"list": [filled], "nextPageCursor": ""}))
    order = await client.wait_order("ETHUSDT", order_link_id="w1", poll=0)
    assert order is not None and order.is_final and order.avg_price == Decimal("3000")
