"""Two Bybit clients we did not write watch positions from the simulator's streams, starting as they start on Bybit:
with a REST snapshot over several categories (position/position.mdx: linear, inverse, option), then the private
``position`` topic (websocket/private/position.mdx).

- ccxt.pro (bundled with ccxt 4.5.90): ``watch_positions`` first loads a snapshot with ``fetch_positions`` for
  linear AND inverse, and ``load_markets`` asks instruments-info for spot, linear, inverse and option; before the
  simulator answered the other categories (an account holding nothing there) the snapshot failed with
  ``Illegal category`` and no position was ever watched.
- pybit 5.17.0: a position tracker that reads every category's positions and open orders over REST, then follows
  ``position_stream``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxtpro
import httpx
import pybit.unified_trading as unified
from pybit.unified_trading import HTTP, WebSocket

from tests.sim.helpers import KEY, SECRET, make_sim

BTC = "BTC/USDT:USDT"


def _pro(http_url: str, ws_url: str) -> Any:
    """ccxt.pro unchanged but for its hosts (and, as in test_ccxt, no /v5/user/query-api or coin-info calls)."""
    ex = ccxtpro.bybit({"apiKey": KEY, "secret": SECRET, "timeout": 5000, "enableRateLimit": False,
                        "options": {"enableUnifiedMargin": False, "enableUnifiedAccount": True}})
    private = ws_url + "/v5/private"
    ex.urls["api"] = {k: http_url for k in ("spot", "futures", "v2", "public", "private")}
    ex.urls["api"]["ws"] = {
        "public": {k: ws_url + "/v5/public/linear" for k in ("spot", "inverse", "option", "linear")},
        "private": {"spot": {"unified": private, "nonUnified": private}, "contract": private, "usdc": private,
                    "trade": ws_url + "/v5/trade"}}
    ex.has["fetchCurrencies"] = False
    return ex


async def test_ccxt_pro_watches_positions_from_the_streams(caplog):
    # ccxt.pro's close() drops its sockets without a closing handshake; the simulator's websockets server says so
    # at INFO ("connection closed"), after whichever earlier test left the root logger at INFO
    caplog.set_level(logging.WARNING, logger="websockets")
    sim = make_sim()
    with sim.serve("127.0.0.1", 0) as http, sim.serve_streams() as streams:
        sim.stream_faults.configure(latency_ms=20)  # a real network's latency, as in test_pybit_ws
        ex = _pro(http.url, streams.url)
        try:
            await ex.load_markets()  # instruments-info for spot, linear, inverse and option
            assert list(ex.markets) == [BTC]
            assert await ex.watch_positions() == []  # the snapshot: linear and inverse over REST, both empty
            watching = asyncio.create_task(ex.watch_positions())
            await asyncio.sleep(0.2)  # subscribed (the first call already authenticated the connection)
            await ex.create_order(BTC, "market", "buy", 0.01, None, {"stopLoss": {"triggerPrice": 59000}})
            [pos] = await asyncio.wait_for(watching, 10)
            assert (pos["symbol"], pos["side"], pos["contracts"], pos["stopLossPrice"]) == (BTC, "long", 0.01, 59000)
            async with httpx.AsyncClient(base_url=http.url) as control:
                watching = asyncio.create_task(ex.watch_positions())
                await asyncio.sleep(0.2)
                await control.post("/sim/price", json={"symbol": "BTCUSDT", "price": "58900"})  # the stop fires
                closed = await asyncio.wait_for(watching, 10)
            assert [(p["symbol"], p["contracts"]) for p in closed] == [(BTC, 0)]
        finally:
            await ex.close()
            for _ in range(200):  # the server sees the sockets go while this test still sets the log level
                if not streams.conns:
                    break
                await asyncio.sleep(0.01)


def _until(cond: Any, limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < end, "timed out waiting for stream messages"
        time.sleep(0.02)


def test_pybit_position_tracker_starts_on_every_category_and_follows_the_stream(monkeypatch):
    sim = make_sim()
    with sim.serve("127.0.0.1", 0) as http, sim.serve_streams() as streams:
        monkeypatch.setattr(unified, "PRIVATE_WSS", streams.url + "/v5/private")
        sim.stream_faults.configure(latency_ms=30)  # see test_pybit_ws: pybit needs a real network's latency
        rest = HTTP(api_key=KEY, api_secret=SECRET, timeout=5, max_retries=1)
        rest.endpoint = http.url
        book: dict[str, Decimal] = {}
        for cat, scope in (("linear", {"settleCoin": "USDT"}), ("inverse", {}), ("option", {})):
            book |= {p["symbol"]: Decimal(p["size"]) for p in rest.get_positions(category=cat, **scope)["result"]["list"]}
        for cat in ("spot", "inverse", "option"):
            assert rest.get_open_orders(category=cat)["result"]["list"] == []
            assert rest.get_executions(category=cat)["result"]["list"] == []
        assert book == {}
        ws = WebSocket(channel_type="private", api_key=KEY, api_secret=SECRET, testnet=False)
        try:
            ws.position_stream(callback=lambda m: book.update({p["symbol"]: Decimal(p["size"]) for p in m["data"]}))
            _until(lambda: any("position" in c.topics for c in list(streams.conns)))
            rest.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.02",
                             stopLoss="59000")
            _until(lambda: book.get("BTCUSDT") == Decimal("0.02"))
            rest.place_order(category="linear", symbol="BTCUSDT", side="Sell", orderType="Market", qty="0.02",
                             reduceOnly=True)
            _until(lambda: book.get("BTCUSDT") == 0)
        finally:
            ws.exit()
            rest.client.close()
