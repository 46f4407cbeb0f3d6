"""ccxt 4.5.90 (a Bybit client we did not write) runs a whole trade cycle against the simulator over HTTP.

ccxt is used unchanged; only its configuration differs from a mainnet setup, because its start-up touches
endpoints outside what the bot (and so the simulator) uses:
- ``enableRateLimit=False``: the simulator is local (its own per-endpoint limits still apply).
- ``urls["api"]``: every host key (spot, futures, v2, public, private) -> the simulator's URL.
- ``load_markets`` asks instruments-info for spot, linear, inverse and option, as it does on Bybit: the simulator
  answers the categories it holds nothing in with an empty list (tests/sim/test_categories.py).
- ``has["fetchCurrencies"] = False``: with API keys set, ``load_markets`` calls ``/v5/asset/coin/query-info``
  (not simulated: HTTP 404, retCode 10017).
- ``options["enableUnifiedMargin"] = False, ["enableUnifiedAccount"] = True``: otherwise the first private call
  asks ``/v5/user/query-api`` (API-key info, not simulated) whether the account is UNIFIED; the simulator is one.
Calls that cannot work on the simulator are in ``UNSERVED`` with the reason.
"""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from tests.sim.helpers import KEY, SECRET, make_sim

BTC = "BTC/USDT:USDT"
# ccxt call -> why it does not work on the simulator (each must fail cleanly with Bybit's 10017/10001, not garble)
UNSERVED: dict[str, str] = {
    "cancel_all_orders": "POST /v5/order/cancel-all: added by engineer simrules (issue 11 section 3)",
    "fetch_funding_rate_history": "GET /v5/market/funding/history: added by engineer btfast (issue 14)",
    "set_margin_mode": "POST /v5/account/set-margin-mode: not simulated (the bot never changes margin mode)",
    "fetch_ledger": "GET /v5/account/transaction-log: not simulated (the bot journals from closed-pnl/executions)",
    "fetch_trading_fees": "ccxt sends /v5/account/fee-rate without category, which fee-rate.mdx marks required; "
                          "fetch_trading_fee(symbol) works",
    "fetch_currencies": "GET /v5/asset/coin/query-info: not simulated (deposit/withdraw coin info)",
}


def _ccxt(url: str) -> Any:
    ex = ccxt.bybit({"apiKey": KEY, "secret": SECRET, "timeout": 5000, "enableRateLimit": False, "options": {
        "enableUnifiedMargin": False, "enableUnifiedAccount": True}})
    ex.urls["api"] = {k: url for k in ("spot", "futures", "v2", "public", "private")}
    ex.has["fetchCurrencies"] = False
    return ex


@pytest.fixture(scope="module")
def exchange():
    sim = make_sim()
    with sim.serve("127.0.0.1", 0) as server:
        ex = _ccxt(server.url)
        ex.load_markets()
        yield ex
        ex.close()


def test_ccxt_markets_and_market_data(exchange):
    m = exchange.market(BTC)
    assert (m["id"], m["linear"], m["swap"], m["settle"]) == ("BTCUSDT", True, True, "USDT")
    assert (m["precision"]["price"], m["precision"]["amount"], m["limits"]["amount"]["min"]) == (0.1, 0.001, 0.001)
    assert m["limits"]["leverage"]["max"] == 100
    assert exchange.fetch_time() > 0
    t = exchange.fetch_ticker(BTC)
    assert t["last"] == 60000 and t["bid"] < t["ask"] and t["info"]["fundingRate"] == "0"
    book = exchange.fetch_order_book(BTC, 5)
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
    assert [b[0] for b in book["bids"]] == sorted((b[0] for b in book["bids"]), reverse=True)
    candles = exchange.fetch_ohlcv(BTC, "5m", limit=3)
    assert len(candles) == 3 and candles[0][0] < candles[-1][0] and candles[-1][4] == 60000
    assert exchange.fetch_funding_rate(BTC)["fundingRate"] == 0


def _user_orders(exchange: Any) -> list[dict[str, Any]]:
    """Open orders minus the position's own TP/SL orders (open-order.mdx: realtime lists both)."""
    return [o for o in exchange.fetch_open_orders(BTC) if not o["info"]["stopOrderType"]]


def test_ccxt_trade_cycle(exchange):
    assert exchange.fetch_balance()["USDT"]["total"] == 10000
    assert exchange.set_leverage(5, BTC)["retCode"] == 0
    assert exchange.fetch_leverage(BTC)["longLeverage"] == 5
    fee = exchange.fetch_trading_fee(BTC)
    assert (fee["taker"], fee["maker"]) == (0.00055, 0.0002)

    order = exchange.create_order(BTC, "market", "buy", 0.01, None, {
        "stopLoss": {"triggerPrice": 58000}, "takeProfit": {"triggerPrice": 62000}, "clientOrderId": "ccxt-open"})
    filled = exchange.fetch_order(order["id"], BTC, {"acknowledged": True})
    assert (filled["status"], filled["filled"], filled["average"], filled["clientOrderId"]) == (
        "closed", 0.01, 60000, "ccxt-open")
    [pos] = exchange.fetch_positions([BTC])
    assert (pos["side"], pos["contracts"], pos["entryPrice"], pos["leverage"]) == ("long", 0.01, 60000, 5)
    assert (pos["stopLossPrice"], pos["takeProfitPrice"]) == (58000, 62000)
    [trade] = exchange.fetch_my_trades(BTC)
    assert (trade["side"], trade["price"], trade["amount"]) == ("buy", 60000, 0.01)
    assert trade["fee"]["currency"] == "USDT" and trade["fee"]["cost"] == pytest.approx(0.33)

    limit = exchange.create_order(BTC, "limit", "buy", 0.01, 59000, {"clientOrderId": "ccxt-limit"})
    assert exchange.fetch_open_order(limit["id"], BTC)["price"] == 59000
    exchange.edit_order(limit["id"], BTC, "limit", "buy", 0.01, 58900)
    assert [o["price"] for o in _user_orders(exchange)] == [58900]
    exchange.cancel_order(limit["id"], BTC)
    assert _user_orders(exchange) == []
    assert [o["clientOrderId"] for o in exchange.fetch_canceled_orders(BTC)] == ["ccxt-limit"]

    exchange.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    assert [p for p in exchange.fetch_positions([BTC]) if p["contracts"]] == []
    [closed] = exchange.fetch_positions_history([BTC])
    assert closed["realizedPnl"] == pytest.approx(-0.66)  # flat price: the two taker fees
    assert exchange.fetch_balance()["USDT"]["total"] == pytest.approx(10000 - 0.66)


@pytest.mark.parametrize("call", sorted(UNSERVED))
def test_ccxt_calls_the_simulator_does_not_serve_fail_cleanly(exchange, call):
    """Until the endpoint exists, ccxt gets Bybit's own error for it; once it exists, the call must work."""
    args: dict[str, tuple[Any, ...]] = {"cancel_all_orders": (BTC,), "fetch_funding_rate_history": (BTC,),
                                        "set_margin_mode": ("cross", BTC)}
    try:
        getattr(exchange, call)(*args.get(call, ()))
    except ccxt.BadRequest as exc:
        assert '"retCode": 10017' in str(exc) or '"retCode": 10001' in str(exc), exc
