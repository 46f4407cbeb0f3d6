"""Fees are read from the field Bybit documents and never added across coins (issue 11 §1).

order/open-order.mdx and order/order-list.mdx: for `linear`, `cumExecFee` is "Deprecated. Use `cumFeeDetail`
instead", and the pages' own response examples return `"cumExecFee": "0"` beside a real fee in `cumFeeDetail`.
order/execution.mdx: `execFee` with its `feeCurrency` ("" in the linear example: the settle coin).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tradebot.bybit.account_models import Execution, Order
from tradebot.care.trader import fill_from

D = Decimal


def order_row(**over: object) -> dict:
    row = {"orderId": "o1", "orderLinkId": "l1", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
           "orderStatus": "Filled", "price": "61000", "qty": "0.01", "avgPrice": "60000", "cumExecQty": "0.01",
           "cumExecValue": "600", "cumExecFee": "0", "leavesQty": "0", "createdTime": "1", "updatedTime": "2"}
    return row | over


def test_docs_example_cum_exec_fee_zero_with_real_fee_in_detail():
    # order/order-list.mdx response example: "cumExecFee": "0", "cumFeeDetail": {"MNT": "0.00242968"}
    o = Order.from_api(order_row(cumFeeDetail={"MNT": "0.00242968"}))
    assert o.cum_exec_fee == 0 and o.other_fees == {"MNT": D("0.00242968")}  # not added to USDT
    o = Order.from_api(order_row(cumFeeDetail={"USDT": "0.33"}))
    assert o.cum_exec_fee == D("0.33")  # the deprecated "0" is not believed


def test_fees_in_different_coins_are_never_added():
    o = Order.from_api(order_row(cumExecFee=None, cumFeeDetail={"USDT": "0.3", "MNT": "0.01"}))
    assert o.cum_exec_fee == D("0.3") and o.other_fees == {"MNT": D("0.01")}
    fill = fill_from(o, [])
    assert fill is not None and fill.fee == D("0.3") and fill.other_fees == {"MNT": D("0.01")}


def test_no_detail_falls_back_to_cum_exec_fee():
    assert Order.from_api(order_row(cumExecFee="0.2")).cum_exec_fee == D("0.2")
    assert Order.from_api(order_row(cumExecFee="0.2", cumFeeDetail={})).cum_exec_fee == D("0.2")


def execution(fee: str, currency: str, exec_id: str) -> Execution:
    return Execution.from_api({"execId": exec_id, "orderId": "o1", "symbol": "BTCUSDT", "side": "Buy",
                               "execType": "Trade", "execPrice": "60000", "execQty": "0.005", "execFee": fee,
                               "feeCurrency": currency, "execTime": "1700000000000"})


def test_fill_from_executions_keeps_fees_per_coin():
    o = Order.from_api(order_row(cumFeeDetail={"USDT": "0.33"}))
    fill = fill_from(o, [execution("0.165", "", "e1"), execution("0.165", "USDT", "e2"),
                         execution("0.002", "MNT", "e3")])
    assert fill is not None
    assert fill.fee == D("0.33") and fill.other_fees == {"MNT": D("0.002")}
    assert fill.qty == D("0.015") and fill.time == datetime.fromtimestamp(1_700_000_000, tz=UTC)
