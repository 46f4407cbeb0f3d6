"""The synthetic book has a real spread and depth; tickers agree with it; market orders walk it.

Rules from Bybit's docs (../shared/reference/bybit-docs/):
- market/orderbook.mdx: `b` bids sorted by price descending, `a` asks ascending, `[price, size]` strings.
- market/tickers.mdx: bid1Price/bid1Size/ask1Price/ask1Size are the best bid and ask.
- order/create-order.mdx: a market order "execute[s] at the best price in the Bybit market until the transaction
  is completed" (it walks the book); a limit order at or through the best opposite price executes at once.
"""

from __future__ import annotations

from decimal import Decimal

import httpx

from proving.sim import BookParams, market_fill_price
from tests.sim.helpers import SyncApi, make_sim

D = Decimal
SYM = {"category": "linear", "symbol": "BTCUSDT"}


def test_spread_depth_and_tickers_match_the_book():
    sim = make_sim(book=BookParams())
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        book = c.get("/v5/market/orderbook", params={**SYM, "limit": 50}).json()["result"]
        bids = [(D(p), D(q)) for p, q in book["b"]]
        asks = [(D(p), D(q)) for p, q in book["a"]]
        assert len(bids) == len(asks) == 50
        assert bids[0][0] < D(60000) < asks[0][0]  # a real spread around the last price
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        assert [p for p, _ in asks] == sorted(p for p, _ in asks)
        assert asks[-1][1] > asks[0][1]  # depth grows away from the touch
        t = c.get("/v5/market/tickers", params=SYM).json()["result"]["list"][0]
        assert (D(t["bid1Price"]), D(t["bid1Size"])) == bids[0]
        assert (D(t["ask1Price"]), D(t["ask1Size"])) == asks[0]


def test_market_order_walks_the_displayed_levels():
    sim = make_sim(book=BookParams(level_notional=D("6000")))  # about 0.1 BTC per level, growing with depth
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        api = SyncApi(c)
        asks = [(D(p), D(q)) for p, q in
                c.get("/v5/market/orderbook", params={**SYM, "limit": 5}).json()["result"]["a"]]
        qty = asks[0][1] + asks[1][1] + D("0.05")  # eats two levels and part of the third
        expected = (asks[0][0] * asks[0][1] + asks[1][0] * asks[1][1] + asks[2][0] * D("0.05")) / qty
        api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Market", qty=str(qty))
        fill = D(api.ok("GET", "/v5/execution/list", **SYM)["list"][0]["execPrice"])
        assert fill == (expected / D("0.1")).to_integral_value(rounding="ROUND_CEILING") * D("0.1")
        assert fill == market_fill_price("Buy", qty, D(60000), D("0.1"), sim.book)  # the backtest's function
        assert fill > asks[0][0]


def test_limit_inside_the_spread_rests_and_at_the_ask_takes():
    sim = make_sim(book=BookParams())
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        api = SyncApi(c)
        rest = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.01",
                      price="60000")["orderId"]
        assert api.ok("GET", "/v5/order/realtime", **SYM, orderId=rest)["list"][0]["orderStatus"] == "New"
        take = api.ok("POST", "/v5/order/create", **SYM, side="Buy", orderType="Limit", qty="0.01",
                      price="60000.1")["orderId"]
        o = api.ok("GET", "/v5/order/realtime", **SYM, orderId=take)["list"][0]
        assert o["orderStatus"] == "Filled" and o["avgPrice"] == "60000.1"
        sell = api.ok("POST", "/v5/order/create", **SYM, side="Sell", orderType="Market", qty="0.01")["orderId"]
        assert api.ok("GET", "/v5/order/realtime", **SYM, orderId=sell)["list"][0]["avgPrice"] == "59999.9"
