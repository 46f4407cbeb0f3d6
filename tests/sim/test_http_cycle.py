"""Full trading cycle with raw signed requests over the real HTTP server on 127.0.0.1 (exact numbers)."""

from __future__ import annotations

from decimal import Decimal

import httpx

from tests.sim.helpers import SyncApi, make_sim


def test_full_cycle_over_http():
    sim = make_sim(rate_limits=True)  # zero-slippage book, taker 0.00055, maker 0.0002
    with sim.serve("127.0.0.1", 0) as server, httpx.Client(base_url=server.url, timeout=5) as client:
        assert server.port > 0
        api = SyncApi(client)
        created = api.ok("POST", "/v5/order/create", category="linear", symbol="BTCUSDT", side="Buy",
                         orderType="Market", qty="0.010", takeProfit="63000", stopLoss="58000",
                         orderLinkId="cycle-1")
        assert set(created) == {"orderId", "orderLinkId"}
        order = api.ok("GET", "/v5/order/realtime", category="linear", orderLinkId="cycle-1")["list"][0]
        assert order["orderStatus"] == "Filled" and order["avgPrice"] == "60000" and order["cumExecQty"] == "0.01"
        pos = api.ok("GET", "/v5/position/list", category="linear", symbol="BTCUSDT")["list"][0]
        assert (pos["side"], pos["size"], pos["avgPrice"]) == ("Buy", "0.01", "60000")
        assert (pos["takeProfit"], pos["stopLoss"], pos["positionIdx"]) == ("63000", "58000", 0)

        api.ok("POST", "/v5/position/trading-stop", category="linear", symbol="BTCUSDT", tpslMode="Full",
               positionIdx=0, stopLoss="59000")
        pos = api.ok("GET", "/v5/position/list", category="linear", symbol="BTCUSDT")["list"][0]
        assert (pos["takeProfit"], pos["stopLoss"]) == ("63000", "59000")

        r = client.post("/sim/price", json={"symbol": "BTCUSDT", "price": "60500"})
        assert r.json()["price"] == "60500"
        assert api.ok("GET", "/v5/position/list", category="linear", symbol="BTCUSDT")["list"][0]["size"] == "0.01"
        client.post("/sim/price", json={"symbol": "BTCUSDT", "price": "58500"})  # walks through 59000

        flat = api.ok("GET", "/v5/position/list", category="linear", symbol="BTCUSDT")["list"][0]
        assert (flat["side"], flat["size"], flat["avgPrice"], flat["takeProfit"], flat["stopLoss"]) == \
               ("", "0", "0", "0", "0")
        assert api.ok("GET", "/v5/position/list", category="linear", settleCoin="USDT")["list"] == []

        entry_fee = Decimal("0.01") * 60000 * Decimal("0.00055")  # 0.33
        exit_fee = Decimal("0.01") * 59000 * Decimal("0.00055")  # 0.3245
        gross = (Decimal(59000) - 60000) * Decimal("0.01")  # -10
        pnl = api.ok("GET", "/v5/position/closed-pnl", category="linear", symbol="BTCUSDT")["list"]
        assert len(pnl) == 1
        row = pnl[0]
        assert row["side"] == "Sell" and row["avgExitPrice"] == "59000" and row["avgEntryPrice"] == "60000"
        assert Decimal(row["closedPnl"]) == gross - entry_fee - exit_fee == Decimal("-10.6545")
        assert Decimal(row["openFee"]) == entry_fee and Decimal(row["closeFee"]) == exit_fee
        assert (row["closedSize"], row["cumEntryValue"], row["cumExitValue"]) == ("0.01", "600", "590")

        execs = api.ok("GET", "/v5/execution/list", category="linear", symbol="BTCUSDT")["list"]
        assert [e["stopOrderType"] for e in execs] == ["StopLoss", ""]
        assert execs[0]["orderId"] == row["orderId"] and execs[0]["execPrice"] == "59000"
        assert Decimal(execs[0]["execFee"]) == exit_fee and execs[0]["isMaker"] is False
        sl_order = api.ok("GET", "/v5/order/realtime", category="linear", orderId=row["orderId"])["list"][0]
        assert sl_order["stopOrderType"] == "StopLoss" and sl_order["reduceOnly"] is True
        assert sl_order["orderStatus"] == "Filled"

        wallet = api.ok("GET", "/v5/account/wallet-balance", accountType="UNIFIED")["list"][0]
        assert Decimal(wallet["totalWalletBalance"]) == Decimal(10000) + gross - entry_fee - exit_fee
        assert Decimal(wallet["coin"][0]["cumRealisedPnl"]) == gross - entry_fee - exit_fee
        assert wallet["totalPerpUPL"] == "0"

        state = client.get("/sim/state").json()
        assert state["prices"]["BTCUSDT"] == "58500" and len(state["closed_pnl"]) == 1
        assert client.get("/v5/unknown").status_code == 404


def test_loopback_requests_are_fast_and_gone_clients_are_quiet(capfd):
    """TCP_NODELAY: no Nagle + delayed-ACK 40 ms per request; a client that gave up leaves no traceback."""
    import socket
    import time

    sim = make_sim()
    with sim.serve("127.0.0.1", 0) as server, httpx.Client(base_url=server.url, timeout=5) as client:
        client.get("/v5/market/time")
        t0 = time.monotonic()
        for _ in range(50):
            assert client.get("/v5/market/time").status_code == 200
        assert time.monotonic() - t0 < 1.5  # ≈ 2 s with the 40 ms stall, a few ms without
        client.post("/sim/faults", json={"latency_ms": 300, "paths": ["/v5/market/time"]})
        for _ in range(3):  # ask, then hang up before the (late) answer
            with socket.create_connection(("127.0.0.1", server.port)) as s:
                s.sendall(b"GET /v5/market/time HTTP/1.1\r\nHost: x\r\n\r\n")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        time.sleep(0.5)
    assert "Traceback" not in capfd.readouterr().err
