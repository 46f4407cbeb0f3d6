"""pybit 5.17.0's WebSocket (a third-party client) against the simulator's streams, only its URL constant patched."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
import pybit.unified_trading as unified
from pybit.unified_trading import HTTP, WebSocket

from tests.sim.helpers import KEY, SECRET, make_sim


def _wait(cond: Any, limit: float = 5.0) -> None:
    end = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < end, "timed out waiting for stream messages"
        time.sleep(0.02)


def test_pybit_private_and_public_streams(monkeypatch):
    sim = make_sim()
    with sim.serve("127.0.0.1", 0) as http, sim.serve_streams() as streams:
        monkeypatch.setattr(unified, "PRIVATE_WSS", streams.url + "/v5/private")
        monkeypatch.setattr(unified, "PUBLIC_WSS", streams.url + "/v5/public/{CHANNEL_TYPE}")
        got: dict[str, list[dict[str, Any]]] = {"order": [], "execution": [], "position": [], "kline": [],
                                                "tickers": []}
        ws = WebSocket(channel_type="private", api_key=KEY, api_secret=SECRET, testnet=False)
        pub = WebSocket(channel_type="linear", testnet=False)
        rest = HTTP(api_key=KEY, api_secret=SECRET, timeout=5, max_retries=1)
        rest.endpoint = http.url
        try:
            ws.order_stream(callback=got["order"].append)
            ws.execution_stream(callback=got["execution"].append)
            ws.position_stream(callback=got["position"].append)
            pub.kline_stream(interval=5, symbol="BTCUSDT", callback=got["kline"].append)
            pub.ticker_stream(symbol="BTCUSDT", callback=got["tickers"].append)
            _wait(lambda: len(got["kline"]) >= 1 and len(got["tickers"]) >= 1)  # snapshots on subscribe
            # trade only once the simulator has the private subscriptions (a message published before them is
            # not for this client, as on Bybit); a fixed sleep was flaky under load
            _wait(lambda: any({"order", "execution", "position"} <= c.topics for c in list(streams.conns)))
            placed = rest.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market",
                                      qty="0.01", stopLoss="59000", orderLinkId="pybit-ws-1")
            assert placed["retCode"] == 0
            _wait(lambda: got["order"] and got["execution"] and got["position"])
            order = got["order"][0]["data"][0]
            assert (order["orderLinkId"], order["orderStatus"], order["category"]) == ("pybit-ws-1", "Filled",
                                                                                        "linear")
            fill = got["execution"][0]["data"][0]
            assert fill["orderLinkId"] == "pybit-ws-1" and Decimal(fill["execQty"]) == Decimal("0.01")
            assert isinstance(fill["isMaker"], bool) and isinstance(fill["seq"], int)
            pos = got["position"][0]["data"][0]
            assert (pos["side"], pos["size"], pos["stopLoss"]) == ("Buy", "0.01", "59000")
            assert isinstance(got["position"][0]["creationTime"], int)
            with httpx.Client(base_url=http.url) as control:
                control.post("/sim/price", json={"symbol": "BTCUSDT", "price": "58800"})
            _wait(lambda: any(r["stopOrderType"] == "StopLoss" for m in got["execution"] for r in m["data"]))
            _wait(lambda: got["position"][-1]["data"][0]["size"] == "0")
            _wait(lambda: len(got["tickers"]) >= 2)
            assert got["tickers"][-1]["data"]["lastPrice"] == "58800"  # pybit merged our delta into the snapshot
        finally:
            ws.exit()
            pub.exit()
            rest.client.close()
