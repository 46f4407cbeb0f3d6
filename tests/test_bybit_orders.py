"""Typed order requests on the wire (pytest-httpx): PostOnly limits, Partial limit take-profits on create-order and
trading-stop, amend-order, and the combinations Bybit documents as invalid refused before anything is sent.

Pages (../shared/reference/bybit-docs/): order/create-order.mdx (timeInForce PostOnly; tpslMode Full/Partial;
tpOrderType Limit and tpLimitPrice "only works when tpslMode=Partial and tpOrderType=Limit"; reduceOnly "take
profit/stop loss cannot be set"), order/amend-order.mdx (qty, price; unfilled or partially filled orders only),
position/trading-stop.mdx (tpSize/slSize "must equal", Partial "can only add"), enum.mdx.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests import test_bybit_client as base
from tests.test_bybit_client import assert_signed, err, ok, path_re
from tradebot.bybit.account_models import Execution, Order
from tradebot.bybit.orders import NewOrder, OrderType, TimeInForce, TpslMode, TradingStop, TriggerBy
from tradebot.errors import BybitAPIError, TransportError
from tradebot.side import Side

D = Decimal
client = base.client  # the signed client on pytest-httpx (its clock sync answered)
CREATE, AMEND, STOP = path_re("/v5/order/create"), path_re("/v5/order/amend"), path_re("/v5/position/trading-stop")


def _body(httpx_mock: Any, url: Any, i: int = 0) -> dict[str, Any]:
    req = httpx_mock.get_requests(url=url)[i]
    assert_signed(req)
    return json.loads(req.content)


async def test_postonly_limit_with_a_partial_limit_take_profit(client, httpx_mock):
    httpx_mock.add_response(url=CREATE, json=ok({"orderId": "o1", "orderLinkId": "mk-1"}))
    order = NewOrder(symbol="BTCUSDT", side=Side.BUY, qty=D("0.012"), order_link_id="mk-1",
                     order_type=OrderType.LIMIT, price=D("59999.90"), time_in_force=TimeInForce.POST_ONLY,
                     take_profit=D("60900"), tpsl_mode=TpslMode.PARTIAL, tp_order_type=OrderType.LIMIT,
                     tp_limit_price=D("61000"), tp_trigger_by=TriggerBy.LAST_PRICE, stop_loss=D("59000"))
    ack = await client.place(order)
    assert (ack.order_id, ack.order_link_id) == ("o1", "mk-1")
    assert _body(httpx_mock, CREATE) == {
        "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.012",
        "price": "59999.9", "timeInForce": "PostOnly", "positionIdx": 0, "orderLinkId": "mk-1",
        "takeProfit": "60900", "stopLoss": "59000", "tpslMode": "Partial", "tpTriggerBy": "LastPrice",
        "tpOrderType": "Limit", "tpLimitPrice": "61000"}


async def test_keyword_place_order_is_the_same_request(client, httpx_mock):
    """Today's callers (tradebot/care/trader.py) keep the keyword form; it builds the same NewOrder."""
    httpx_mock.add_response(url=CREATE, json=ok({"orderId": "o", "orderLinkId": "k"}), is_reusable=True)
    kw: dict[str, Any] = {"symbol": "BTCUSDT", "qty": D("0.01"), "order_link_id": "k", "take_profit": D("62000"),
                          "stop_loss": D("58000"), "tp_trigger_by": "LastPrice", "sl_trigger_by": "LastPrice"}
    await client.place_order(side="Buy", **kw)
    await client.place(NewOrder(side=Side.BUY, tp_trigger_by=TriggerBy.LAST_PRICE,
                                sl_trigger_by=TriggerBy.LAST_PRICE, **{k: v for k, v in kw.items()
                                                                       if not k.endswith("trigger_by")}))
    first, second = _body(httpx_mock, CREATE, 0), _body(httpx_mock, CREATE, 1)
    assert first == second and first["tpslMode"] == "Full" and "timeInForce" not in first
    await client.place_order(symbol="ETHUSDT", side="Buy", qty=D("0.1"), order_link_id="po", order_type="Limit",
                             price=D("2000"), time_in_force="PostOnly", tpsl_mode="Partial",
                             take_profit=D("2100"), tp_order_type="Limit", tp_limit_price=D("2105"))
    body = _body(httpx_mock, CREATE, 2)
    assert (body["timeInForce"], body["tpslMode"], body["tpOrderType"], body["tpLimitPrice"]) == (
        "PostOnly", "Partial", "Limit", "2105")


@pytest.mark.parametrize(("fields", "text"), [
    ({"order_type": "Limit"}, "needs a price"),
    ({"price": D("60000")}, "Market order takes no price"),
    ({"time_in_force": "PostOnly"}, "PostOnly is for Limit"),
    ({"time_in_force": "GTX"}, "time_in_force must be one of"),
    ({"side": "Long"}, "side must be one of"),
    ({"take_profit": D("61000"), "tp_order_type": "Limit", "tp_limit_price": D("61000")}, "needs tpsl_mode Partial"),
    ({"take_profit": D("61000"), "tp_order_type": "Limit", "tpsl_mode": "Partial"}, "tp_limit_price"),
    ({"take_profit": D("61000"), "tp_limit_price": D("61000"), "tpsl_mode": "Partial"}, "only applies to"),
    ({"tp_order_type": "Market"}, "without a tp trigger price"),
    ({"reduce_only": True, "stop_loss": D("59000")}, "reduce-only"),
    ({"qty": D("0")}, "qty must be positive"),
    ({"stop_loss": D("-1")}, "stop_loss must be positive"),
    ({"order_link_id": "has space"}, "orderLinkId"),
])
def test_new_order_refuses_what_bybit_documents_as_invalid(fields, text):
    base: dict[str, Any] = {"symbol": "BTCUSDT", "side": "Buy", "qty": D("0.01"), "order_link_id": "x-1"}
    with pytest.raises(ValueError, match=text):
        NewOrder.of(**(base | fields))


def test_close_the_whole_position_with_qty_zero():
    """create-order.mdx: qty "0" with reduceOnly and closeOnTrigger closes the position."""
    body = NewOrder.of(symbol="BTCUSDT", side="Sell", qty=D(0), order_link_id="c", reduce_only=True,
                       close_on_trigger=True).body()
    assert (body["qty"], body["reduceOnly"], body["closeOnTrigger"]) == ("0", True, True)


async def test_trading_stop_partial_limit_tp_exact_body(client, httpx_mock):
    httpx_mock.add_response(url=STOP, json=ok())
    assert await client.set_trading_stop(symbol="XRPUSDT", tpsl_mode="Partial", take_profit=D("0.6"),
                                         stop_loss=D("0.2"), tp_trigger_by="MarkPrice", sl_trigger_by="IndexPrice",
                                         tp_order_type="Limit", sl_order_type="Limit", tp_size=D("50"),
                                         sl_size=D("50"), tp_limit_price=D("0.57"), sl_limit_price=D("0.21"))
    # exactly trading-stop.mdx's request example
    assert _body(httpx_mock, STOP) == {
        "category": "linear", "symbol": "XRPUSDT", "takeProfit": "0.6", "stopLoss": "0.2",
        "tpTriggerBy": "MarkPrice", "slTriggerBy": "IndexPrice", "tpslMode": "Partial", "tpOrderType": "Limit",
        "slOrderType": "Limit", "tpSize": "50", "slSize": "50", "tpLimitPrice": "0.57", "slLimitPrice": "0.21",
        "positionIdx": 0}


@pytest.mark.parametrize(("fields", "text"), [
    ({"tpsl_mode": "Partial", "take_profit": D("61000")}, "needs tp_size"),
    ({"tpsl_mode": "Partial", "take_profit": D("61000"), "stop_loss": D("59000"), "tp_size": D("1"),
      "sl_size": D("2")}, "must be equal"),
    ({"tpsl_mode": "Partial", "trailing_stop": D("100")}, "trailing stop"),
    ({"tpsl_mode": "Partial", "take_profit": D("0"), "tp_size": D("1")}, "adds a TP and/or SL"),
    ({"take_profit": D("61000"), "tp_size": D("1")}, "for tpsl_mode Partial"),
    ({"take_profit": D("61000"), "tp_order_type": "Limit", "tp_limit_price": D("61000")}, "needs tpsl_mode Partial"),
    ({"tpsl_mode": "Half"}, "tpsl_mode must be one of"),
    ({"stop_loss": D("-5")}, "must not be negative"),
])
async def test_trading_stop_refuses_before_sending(client, httpx_mock, fields, text):
    with pytest.raises(ValueError, match=text):
        await client.set_trading_stop(symbol="BTCUSDT", **fields)
    assert httpx_mock.get_requests(url=STOP) == []


async def test_full_trading_stop_body_unchanged(client, httpx_mock):
    httpx_mock.add_response(url=STOP, json=ok())
    await client.trading_stop(TradingStop(symbol="BTCUSDT", stop_loss=D("0")))
    assert _body(httpx_mock, STOP) == {"category": "linear", "symbol": "BTCUSDT", "tpslMode": "Full",
                                       "positionIdx": 0, "stopLoss": "0"}


async def test_amend_price_exact_body_and_gone_orders(client, httpx_mock):
    httpx_mock.add_response(url=AMEND, json=ok({"orderId": "o1", "orderLinkId": "mk-1"}))
    httpx_mock.add_response(url=AMEND, json=err(110001, "order not exists or too late to replace"))
    ack = await client.amend_order("BTCUSDT", order_link_id="mk-1", price=D("60000.10"))
    assert ack is not None and (ack.order_id, ack.order_link_id) == ("o1", "mk-1")
    assert _body(httpx_mock, AMEND) == {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "mk-1",
                                        "price": "60000.1"}
    assert await client.amend_order("BTCUSDT", order_id="o1", qty=D("0.005")) is None  # filled meanwhile
    assert _body(httpx_mock, AMEND, 1) == {"category": "linear", "symbol": "BTCUSDT", "orderId": "o1",
                                           "qty": "0.005"}
    with pytest.raises(ValueError, match="order_id or order_link_id"):
        await client.amend_order("BTCUSDT", price=D("1"))
    with pytest.raises(ValueError, match="new qty or price"):
        await client.amend_order("BTCUSDT", order_id="o1")


def _order_row(price: str, status: str = "New") -> dict[str, Any]:
    return ok({"list": [{"orderId": "o1", "orderLinkId": "mk-1", "symbol": "BTCUSDT", "side": "Buy",
                         "orderType": "Limit", "orderStatus": status, "price": price, "qty": "0.01"}]})


async def test_amend_with_a_lost_answer_looks_before_sending_again(client, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("lost"), url=AMEND)  # it was applied: the order shows it
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=_order_row("60000.1"))
    ack = await client.amend_order("BTCUSDT", order_link_id="mk-1", price=D("60000.1"))
    assert ack is not None and ack.order_id == "o1" and len(httpx_mock.get_requests(url=AMEND)) == 1
    httpx_mock.add_exception(httpx.ReadTimeout("lost"), url=AMEND)  # not applied: sent again
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=_order_row("60000.1"))
    httpx_mock.add_response(url=AMEND, json=ok({"orderId": "o1", "orderLinkId": "mk-1"}))
    assert await client.amend_order("BTCUSDT", order_link_id="mk-1", price=D("60000.2")) is not None
    assert len(httpx_mock.get_requests(url=AMEND)) == 3
    httpx_mock.add_exception(httpx.ReadTimeout("lost"), url=AMEND)  # meanwhile filled: nothing to amend
    httpx_mock.add_response(url=path_re("/v5/order/realtime"), json=_order_row("60000.1", "Filled"))
    assert await client.amend_order("BTCUSDT", order_link_id="mk-1", price=D("60000.3")) is None


async def test_amend_business_errors_are_not_retried(client, httpx_mock):
    httpx_mock.add_response(url=AMEND, json=err(10001, "The order remains unchanged as the parameters entered "
                                                       "match the existing ones."))
    with pytest.raises(BybitAPIError) as exc:
        await client.amend_order("BTCUSDT", order_id="o1", price=D("1"))
    assert exc.value.code == 10001 and not isinstance(exc.value, TransportError)
    assert len(httpx_mock.get_requests(url=AMEND)) == 1


def test_models_expose_maker_and_fill_state():
    """order/open-order.mdx and order/execution.mdx fields the maker-first logic reads."""
    o = Order.from_api({"orderId": "o", "orderLinkId": "p", "symbol": "BTCUSDT", "side": "Buy",
                        "orderType": "Limit", "orderStatus": "Cancelled", "price": "60000", "qty": "0.003",
                        "rejectReason": "EC_PostOnlyWillTakeLiquidity", "timeInForce": "PostOnly",
                        "cancelType": "UNKNOWN", "cumExecQty": "0", "leavesQty": "0", "tpslMode": "Partial",
                        "tpLimitPrice": "61000", "slLimitPrice": "", "triggerPrice": "0",
                        "createType": "CreateByUser", "parentOrderLinkId": ""})
    assert o.post_only_cancelled and o.is_final and o.time_in_force == "PostOnly"
    assert (o.tpsl_mode, o.tp_limit_price, o.sl_limit_price, o.trigger_price) == ("Partial", D("61000"), None, None)
    tp = Order.from_api({"orderId": "t", "symbol": "BTCUSDT", "side": "Sell", "orderType": "Limit",
                         "orderStatus": "Untriggered", "price": "61000", "qty": "0.005", "triggerPrice": "60900",
                         "stopOrderType": "PartialTakeProfit", "createType": "CreateByPartialTakeProfit",
                         "parentOrderLinkId": "mk-1", "tpslMode": "Partial", "reduceOnly": True})
    assert (tp.trigger_price, tp.stop_order_type, tp.parent_order_link_id, tp.reduce_only) == (
        D("60900"), "PartialTakeProfit", "mk-1", True)
    e = Execution.from_api({"execId": "e", "symbol": "BTCUSDT", "orderId": "o", "execQty": "0.005",
                            "execPrice": "59999.9", "isMaker": True, "feeRate": "0.0002", "leavesQty": "0.007",
                            "orderQty": "0.012", "orderPrice": "59999.9", "createType": "CreateByUser"})
    assert (e.is_maker, e.fee_rate, e.leaves_qty, e.order_qty, e.order_price) == (
        True, D("0.0002"), D("0.007"), D("0.012"), D("59999.9"))
