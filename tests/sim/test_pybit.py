"""pybit 5.17.0 (third-party client) against the simulator's HTTP server, unchanged except the endpoint."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from pybit.unified_trading import HTTP

from tests.sim.helpers import KEY, SECRET, make_sim


def test_pybit_full_cycle():
    sim = make_sim()
    with sim.serve("127.0.0.1", 0) as server:
        s = HTTP(api_key=KEY, api_secret=SECRET, timeout=5, max_retries=1)
        s.endpoint = server.url
        try:
            t = s.get_server_time()
            assert t["retCode"] == 0 and int(t["result"]["timeSecond"]) > 0
            info = s.get_instruments_info(category="linear", symbol="BTCUSDT")
            assert info["result"]["list"][0]["priceFilter"]["tickSize"] == "0.10"
            kl = s.get_kline(category="linear", symbol="BTCUSDT", interval="5", limit=10)["result"]["list"]
            assert len(kl) == 10 and int(kl[0][0]) > int(kl[1][0])
            assert kl[0][4] == "60000"
            placed = s.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market",
                                   qty="0.01", takeProfit="62000", stopLoss="58000", orderLinkId="pybit-1")
            assert placed["retCode"] == 0 and placed["result"]["orderLinkId"] == "pybit-1"
            pos = s.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"][0]
            assert (pos["side"], pos["size"], pos["stopLoss"], pos["takeProfit"]) == ("Buy", "0.01", "58000", "62000")
            stops = s.get_open_orders(category="linear", symbol="BTCUSDT", orderFilter="StopOrder")["result"]["list"]
            by_kind = {o["stopOrderType"]: o for o in stops}  # position TP/SL as system conditional orders
            assert {k: (o["orderStatus"], o["triggerPrice"]) for k, o in by_kind.items()} == {
                "TakeProfit": ("Untriggered", "62000"), "StopLoss": ("Untriggered", "58000")}
            r = s.set_trading_stop(category="linear", symbol="BTCUSDT", stopLoss="59500", tpslMode="Full",
                                   positionIdx=0)
            assert r["retCode"] == 0 and r["result"] == {}
            moved = s.get_open_orders(category="linear", symbol="BTCUSDT", orderId=by_kind["StopLoss"]["orderId"])
            assert moved["result"]["list"][0]["triggerPrice"] == "59500"
            for px in ("58000", "58100"):
                s.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01",
                              price=px)
            book = s.get_orderbook(category="linear", symbol="BTCUSDT", limit=5)["result"]
            assert float(book["b"][0][0]) < float(book["a"][0][0])
            gone = s.cancel_all_orders(category="linear", symbol="BTCUSDT", orderFilter="Order")
            assert gone["result"]["success"] == "1" and len(gone["result"]["list"]) == 2
            left = s.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"]
            assert sorted(o["stopOrderType"] for o in left) == ["StopLoss", "TakeProfit"]
            with pytest.raises(Exception) as exc:  # 34040 not modified -> pybit InvalidRequestError
                s.set_trading_stop(category="linear", symbol="BTCUSDT", stopLoss="59500", tpslMode="Full",
                                   positionIdx=0)
            assert "34040" in str(exc.value)
            with httpx.Client(base_url=server.url) as control:
                control.post("/sim/price", json={"symbol": "BTCUSDT", "price": "59000"})
            pnl = s.get_closed_pnl(category="linear", symbol="BTCUSDT")["result"]["list"]
            assert len(pnl) == 1 and pnl[0]["avgExitPrice"] == "59500" and pnl[0]["side"] == "Sell"
            expected = Decimal("-5") - Decimal("0.33") - Decimal("0.327250")
            assert Decimal(pnl[0]["closedPnl"]) == expected
            wallet = s.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
            assert Decimal(wallet["totalWalletBalance"]) == Decimal(10000) + expected
            flat = s.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"][0]
            assert flat["size"] == "0" and flat["side"] == ""
            assert s.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"] == []
        finally:
            s.client.close()
