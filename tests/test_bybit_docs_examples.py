"""BybitClient parses Bybit's own documented response examples (tests/fixtures/bybit_docs/, one per docs page).

Each example is served verbatim (``_source`` stripped) by an httpx.MockTransport for its path, and the client
method the bot uses for that endpoint must return the example's values, typed, without losing fields.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.sim.shapes import load
from tradebot.bybit.client import BybitClient, RetryPolicy

D = Decimal
PATHS = {
    "/v5/market/time": "market_time", "/v5/market/kline": "market_kline", "/v5/market/tickers": "market_tickers",
    "/v5/market/orderbook": "market_orderbook", "/v5/market/instruments-info": "market_instruments_info",
    "/v5/market/funding/history": "market_funding_history", "/v5/order/create": "order_create",
    "/v5/order/amend": "order_amend", "/v5/order/cancel": "order_cancel", "/v5/order/cancel-all": "order_cancel_all",
    "/v5/order/realtime": "order_realtime", "/v5/order/history": "order_history",
    "/v5/execution/list": "execution_list", "/v5/position/list": "position_list",
    "/v5/position/trading-stop": "position_trading_stop", "/v5/position/set-leverage": "position_set_leverage",
    "/v5/position/closed-pnl": "position_closed_pnl", "/v5/account/wallet-balance": "account_wallet_balance",
    "/v5/account/info": "account_info", "/v5/account/fee-rate": "account_fee_rate",
}


def _docs_transport(seen: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        name = PATHS.get(request.url.path)
        if name is None:
            return httpx.Response(404)
        body, _ = load(name)
        body.setdefault("retExtInfo", {})
        if request.url.path in ("/v5/order/realtime", "/v5/order/history") and "cursor=" in str(request.url):
            body["result"] = {**body["result"], "list": []}  # one page only
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def docs():
    seen: list[str] = []
    c = BybitClient("http://docs", "k3y", "s3cret", transport=_docs_transport(seen),
                    retry=RetryPolicy(attempts=1, base_delay=0), sleep=_no_sleep)
    c.seen = seen  # type: ignore[attr-defined]
    yield c
    await c.aclose()


def _single_page(client: BybitClient) -> None:
    """The docs examples carry a nextPageCursor; the mock has one page, so stop paging after it."""
    original = client._call

    async def call(method: str, path: str, params: dict[str, Any], **kw: Any) -> Any:
        res = await original(method, path, params, **kw)
        if isinstance(res, dict) and "nextPageCursor" in res:
            res = {**res, "nextPageCursor": ""}
        return res

    client._call = call  # type: ignore[method-assign]


async def test_market_examples(docs):
    assert await docs.server_time_ms() == 1688639403423  # market/time.mdx: timeNano // 1e6
    rows = await docs.klines("BTCUSD", "60", limit=3)  # market/kline.mdx (newest first on the wire)
    assert [k.start_ms for k in rows] == [1670601600000, 1670605200000, 1670608800000]
    assert (rows[-1].open, rows[-1].high, rows[-1].low, rows[-1].close) == (D("17071"), D("17073"), D("17027"),
                                                                            D("17055.5"))
    assert (rows[-1].volume, rows[-1].turnover) == (D("268611"), D("15.74462667"))
    t = await docs.ticker("BTCUSD")  # market/tickers.mdx
    assert (t.last_price, t.mark_price, t.index_price) == (D("120635.50"), D("114898.43"), D("114890.92"))
    assert (t.bid1, t.ask1, t.funding_rate, t.volume_24h) == (D("103401.00"), D("109152.80"), D("0.0001"),
                                                              D("13713832.0000"))
    book = await docs.orderbook("BTCUSDT", 1)  # market/orderbook.mdx
    assert book.bids == ((D("65485.47"), D("47.081829")),) and book.asks == ((D("65557.7"), D("16.606555")),)
    assert (book.symbol, book.ts_ms) == ("BTCUSDT", 1716863719031)
    ins = await docs.instrument("BTCUSDT")  # market/instrument.mdx
    assert (ins.tick_size, ins.qty_step, ins.min_qty, ins.max_qty, ins.max_mkt_qty) == (
        D("0.10"), D("0.001"), D("0.001"), D("1190.000"), D("500.000"))
    assert (ins.min_notional, ins.max_leverage, ins.min_leverage, ins.leverage_step) == (
        D("5"), D("100.00"), D("1"), D("0.01"))


async def test_order_examples(docs):
    _single_page(docs)
    ack = await docs.place_order(symbol="ETHUSDT", side="Buy", qty=D("0.1"), order_link_id="spot-test-postonly")
    assert (ack.order_id, ack.order_link_id) == ("1321003749386327552", "spot-test-postonly")  # create-order.mdx
    assert await docs.cancel_order("ETHUSDT", order_link_id="linear-004") is True  # cancel-order.mdx
    o = await docs.get_order("ETHUSDT", order_link_id="test-000005")  # open-order.mdx
    assert o is not None and (o.order_id, o.status, o.side, o.order_type) == (
        "fd4300ae-7847-404e-b947-b46980a4d140", "New", "Buy", "Limit")
    assert (o.price, o.qty, o.leaves_qty, o.take_profit, o.stop_loss) == (
        D("1600.00"), D("0.10"), D("0.10"), D("2500.00"), D("1500.00"))
    assert o.avg_price is None and o.cum_exec_qty == 0 and not o.is_final
    history = await docs.order_history("BTCUSDT")  # order-list.mdx
    assert len(history) == 1 and history[0].status == "Cancelled" and history[0].is_final
    assert history[0].reject_reason == "EC_PostOnlyWillTakeLiquidity"
    ex = (await docs.executions("ETHPERP", max_items=1))[0]  # execution.mdx
    assert (ex.exec_id, ex.exec_type, ex.side, ex.order_type) == (
        "e0cbe81d-0f18-5866-9415-cf319b5dab3b", "Trade", "Buy", "Market")
    assert (ex.exec_price, ex.exec_qty, ex.exec_value, ex.exec_fee, ex.fee_rate) == (
        D("1190.15"), D("0.1"), D("119.015"), D("0.071409"), D("0.0006"))
    assert ex.closed_size == 0 and ex.is_maker is False and ex.exec_time_ms == 1672282722429


async def test_fees_in_cum_fee_detail_are_not_lost(docs):
    """open-order.mdx's example: "cumExecFee":"0" beside a real fee in cumFeeDetail (linear: cumExecFee is
    deprecated, "Use cumFeeDetail instead"). The fee must survive parsing, per coin, never summed across coins."""
    _single_page(docs)
    o = await docs.get_order("ETHUSDT", order_link_id="test-000005")
    assert o is not None and o.cum_exec_fee == 0 and o.other_fees == {"MNT": D("0.00242968")}
    [h] = await docs.order_history("BTCUSDT")
    assert h.other_fees == {"MNT": D("0.00242968")}
    ex = (await docs.executions("ETHPERP", max_items=1))[0]
    assert ex.exec_fee == D("0.071409") and ex.fee_currency in ("", "USDT")  # the example's feeCurrency is ""


async def test_position_and_account_examples(docs):
    _single_page(docs)
    [p] = await docs.positions("BTCUSD")  # position/position.mdx
    assert (p.side, p.size, p.avg_price, p.mark_price, p.leverage) == (
        "Sell", D("300"), D("27464.50441675"), D("28224.50"), D("10"))
    assert p.liq_price is None and p.take_profit is None and p.stop_loss is None and p.trailing_stop is None
    assert (p.unrealised_pnl, p.cur_realised_pnl, p.cum_realised_pnl) == (
        D("-0.00029413"), D("0.00013123"), D("-0.00096902"))
    assert await docs.set_trading_stop(symbol="BTCUSDT", stop_loss=D("1")) is True  # trading-stop.mdx
    assert await docs.set_leverage("BTCUSDT", D("5")) is True  # leverage.mdx
    [c] = await docs.closed_pnl("ETHPERP")  # close-pnl.mdx
    assert (c.side, c.position_side, c.qty, c.closed_size) == ("Sell", "Buy", D("3"), D("3"))
    assert (c.avg_entry_price, c.avg_exit_price, c.closed_pnl) == (D("1194.97516667"), D("1180.59833333"),
                                                                   D("-47.4065323"))
    assert (c.open_fee, c.close_fee) == (0, 0)  # the example has no openFee/closeFee: absent, not an error
    w = await docs.wallet("BTC")  # wallet-balance.mdx
    assert (w.total_equity, w.wallet_balance, w.available) == (D("3.31216591"), D("3.00326056"), D("3.00326056"))
    assert (w.coin, w.coin_wallet_balance, w.coin_equity) == ("BTC", 0, 0)


def _method_for(path: str) -> Any:
    """The BybitClient method whose code calls ``path``, or None."""
    for name, fn in inspect.getmembers(BybitClient, inspect.iscoroutinefunction):
        if not name.startswith("_") and f'"{path}"' in inspect.getsource(fn):
            return fn
    return None


# What a call needs beyond the symbol (the example's own request: amend-order.mdx amends orderLinkId linear-004)
REQUIRED: dict[str, dict[str, Any]] = {"/v5/order/amend": {"order_link_id": "linear-004", "price": D("1050")}}


# (/v5/order/cancel-all: the bot never cancels all orders, so the client has no such call; the simulator's
# answer is checked against cancel-all.mdx in tests/sim/test_conformance.py)
@pytest.mark.parametrize(("path", "expect"), [
    ("/v5/account/info", ["REGULAR_MARGIN"]),  # account/account-info.mdx
    ("/v5/account/fee-rate", ["0.0006", "0.0001"]),  # account/fee-rate.mdx
    ("/v5/market/funding/history", ["0.0001", "1672041600000"]),  # market/history-fund-rate.mdx
    ("/v5/order/amend", ["c6f055d9-7f21-4079-913d-e6523a9cfffa"]),  # amend-order.mdx
])
async def test_examples_of_endpoints_added_elsewhere(docs, path, expect):
    """The BybitClient method that calls the path parses the example and keeps its values (no method: a failure)."""
    fn = _method_for(path)
    assert fn is not None, f"BybitClient has no method calling {path}"
    _single_page(docs)
    params = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {"symbol": "ETHUSDT"} \
        if "symbol" in params and params["symbol"].default is inspect.Parameter.empty else {}
    kwargs |= REQUIRED.get(path, {})
    result = await fn(docs, **kwargs)
    assert path in docs.seen
    text = repr(result)
    assert all(v in text for v in expect), f"{fn.__name__} lost the example's values {expect}: {text}"
