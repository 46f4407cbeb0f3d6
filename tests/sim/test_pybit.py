"""pybit 5.17.0 (third-party client) against the simulator's HTTP server, unchanged except the endpoint."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from pybit.unified_trading import HTTP

from proving.sim import BookParams
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


def test_pybit_maker_cycle():
    """pybit through a maker-first trade (create-order.mdx PostOnly and tpslMode=Partial with a Limit TP,
    amend-order.mdx, cancel-order.mdx, trading-stop.mdx; execution.mdx isMaker/feeRate): a PostOnly that would
    take is cancelled, the re-priced PostOnly entry fills in part at a touch, the rest is cancelled, and the
    Partial limit take-profit of the filled part rests and fills as maker while the Full stop-loss stands by."""
    sim = make_sim(book=BookParams(level_notional=Decimal("300")))  # bid/ask one tick off; a touch ≈ 0.005 BTC
    sym = {"category": "linear", "symbol": "BTCUSDT"}
    with sim.serve("127.0.0.1", 0) as server, httpx.Client(base_url=server.url) as control:
        s = HTTP(api_key=KEY, api_secret=SECRET, timeout=5, max_retries=1)
        s.endpoint = server.url
        try:
            ticker = s.get_tickers(**sym)["result"]["list"][0]
            bid, ask = ticker["bid1Price"], ticker["ask1Price"]
            fee = s.get_fee_rates(**sym)["result"]["list"][0]
            taken = s.place_order(**sym, side="Buy", orderType="Limit", qty="0.012", price=ask,
                                  timeInForce="PostOnly", orderLinkId="mk-take")
            assert taken["retCode"] == 0  # acknowledged, then cancelled: it would have taken
            row = s.get_order_history(**sym, orderLinkId="mk-take")["result"]["list"][0]
            assert (row["orderStatus"], row["rejectReason"]) == ("Cancelled", "EC_PostOnlyWillTakeLiquidity")
            entry = dict(sym, side="Buy", orderType="Limit", qty="0.012", timeInForce="PostOnly",
                         orderLinkId="mk-entry", tpslMode="Partial", takeProfit="60900", tpOrderType="Limit",
                         tpLimitPrice="61000")
            oid = s.place_order(**entry, price="59950")["result"]["orderId"]
            assert s.amend_order(**sym, orderId=oid, price=bid)["retCode"] == 0  # re-priced to the best bid
            control.post("/sim/price", json={"symbol": "BTCUSDT", "price": "60100"})
            control.post("/sim/price", json={"symbol": "BTCUSDT", "price": bid})  # a touch: part of it fills
            o = s.get_open_orders(**sym, orderId=oid)["result"]["list"][0]
            assert (o["orderStatus"], o["cumExecQty"], o["leavesQty"]) == ("PartiallyFilled", "0.005", "0.007")
            [fill] = s.get_executions(**sym, orderId=oid)["result"]["list"]
            assert (fill["isMaker"], fill["feeRate"], fill["execPrice"]) == (True, fee["makerFeeRate"], bid)
            assert s.cancel_order(**sym, orderId=oid)["retCode"] == 0  # the rest is cancelled
            o = s.get_order_history(**sym, orderId=oid)["result"]["list"][0]
            assert (o["orderStatus"], o["cumExecQty"]) == ("Cancelled", "0.005")
            r = s.set_trading_stop(**sym, tpslMode="Full", positionIdx=0, stopLoss="59000")
            assert r["retCode"] == 0
            stops = s.get_open_orders(**sym, orderFilter="StopOrder")["result"]["list"]
            assert sorted((x["stopOrderType"], x["qty"], x["orderType"]) for x in stops) == [
                ("PartialTakeProfit", "0.005", "Limit"), ("StopLoss", "0.005", "Market")]
            tp = next(x for x in stops if x["stopOrderType"] == "PartialTakeProfit")
            control.post("/sim/price", json={"symbol": "BTCUSDT", "price": "60950"})  # triggers at 60900
            o = s.get_open_orders(**sym, orderId=tp["orderId"])["result"]["list"][0]
            assert (o["orderStatus"], o["price"], o["reduceOnly"]) == ("New", "61000", True)
            control.post("/sim/price", json={"symbol": "BTCUSDT", "price": "61050"})  # through 61000
            [exit_fill] = s.get_executions(**sym, orderId=tp["orderId"])["result"]["list"]
            assert (exit_fill["stopOrderType"], exit_fill["isMaker"], exit_fill["feeRate"]) == (
                "PartialTakeProfit", True, fee["makerFeeRate"])
            [pnl] = s.get_closed_pnl(**sym)["result"]["list"]
            gross = (Decimal("61000") - Decimal(bid)) * Decimal("0.005")
            fees = Decimal("0.005") * (Decimal(bid) + Decimal("61000")) * Decimal(fee["makerFeeRate"])
            assert Decimal(pnl["closedPnl"]) == gross - fees
            assert s.get_positions(**sym)["result"]["list"][0]["size"] == "0"
            assert s.get_open_orders(**sym)["result"]["list"] == []  # the Full stop-loss went with the position
        finally:
            s.client.close()


def test_pybit_runs_the_bots_maker_sequence():
    """pybit through the exact sequence tradebot/care/maker_entry.py sends (issue 21): the PostOnly entry at the bid
    carrying the Full-mode market stop (create-order.mdx), a touch that fills part of it, the rest cancelled
    (cancel-order.mdx; enum.mdx: Cancelled keeps its fills), then the take-profit added as a Partial limit for the
    filled size (trading-stop.mdx: tpslMode Partial, tpSize, tpOrderType Limit, tpLimitPrice), filled as maker
    (execution.mdx isMaker); the Full stop-loss stays on the position until it closes."""
    sim = make_sim(book=BookParams(level_notional=Decimal("300")))
    sym = {"category": "linear", "symbol": "BTCUSDT"}
    with sim.serve("127.0.0.1", 0) as server, httpx.Client(base_url=server.url) as control:
        s = HTTP(api_key=KEY, api_secret=SECRET, timeout=5, max_retries=1)
        s.endpoint = server.url
        try:
            bid = s.get_tickers(**sym)["result"]["list"][0]["bid1Price"]
            maker = s.get_fee_rates(**sym)["result"]["list"][0]["makerFeeRate"]
            oid = s.place_order(**sym, side="Buy", orderType="Limit", qty="0.012", price=bid, timeInForce="PostOnly",
                                orderLinkId="en-bot", stopLoss="59000", tpslMode="Full",
                                slTriggerBy="LastPrice")["result"]["orderId"]
            control.post("/sim/price", json={"symbol": "BTCUSDT", "price": "60100"})
            control.post("/sim/price", json={"symbol": "BTCUSDT", "price": bid})  # a touch: 0.005 fills
            assert s.cancel_order(**sym, orderId=oid)["retCode"] == 0
            o = s.get_order_history(**sym, orderId=oid)["result"]["list"][0]
            assert (o["orderStatus"], o["cumExecQty"]) == ("Cancelled", "0.005")
            pos = s.get_positions(**sym)["result"]["list"][0]
            assert (pos["size"], pos["stopLoss"], pos["takeProfit"]) == ("0.005", "59000", "0")  # position.mdx: no Full TP
            r = s.set_trading_stop(**sym, positionIdx=0, tpslMode="Partial", takeProfit="61000", tpSize="0.005",
                                   tpOrderType="Limit", tpLimitPrice="61000", tpTriggerBy="LastPrice")
            assert r["retCode"] == 0
            stops = s.get_open_orders(**sym, orderFilter="StopOrder")["result"]["list"]
            assert sorted((x["stopOrderType"], x["qty"], x["orderType"]) for x in stops) == [
                ("PartialTakeProfit", "0.005", "Limit"), ("StopLoss", "0.005", "Market")]
            tp = next(x for x in stops if x["stopOrderType"] == "PartialTakeProfit")
            control.post("/sim/price", json={"symbol": "BTCUSDT", "price": "61000"})
            control.post("/sim/price", json={"symbol": "BTCUSDT", "price": "61000.1"})
            fills = s.get_executions(**sym, orderId=tp["orderId"])["result"]["list"]
            assert {(f["isMaker"], f["feeRate"], f["execPrice"]) for f in fills} == {(True, maker, "61000")}
            assert s.get_positions(**sym)["result"]["list"][0]["size"] == "0"
            assert s.get_open_orders(**sym)["result"]["list"] == []
        finally:
            s.client.close()
