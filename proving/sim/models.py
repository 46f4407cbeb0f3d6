"""Exchange records (orders, positions, executions, closed PnL) and their Bybit v5 wire rows."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradebot.money import ZERO
from tradebot.rules.bybit_trail import trail_level
from tradebot.side import Side


def fmt(value: Decimal | int | None) -> str:
    """Plain decimal string (no exponent), at most 10 decimals, like Bybit's wire numbers."""
    if value is None:
        return ""
    d = Decimal(value)
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int), f"not a finite number: {value}"
    if exponent < -10:
        d = d.quantize(Decimal("1e-10"))
    s = format(d.normalize(), "f")
    return "0" if s in ("-0", "") else s


@dataclass
class Order:
    """One order, including system TP/SL/trailing closing orders (``stop_order_type`` set)."""

    order_id: str
    link_id: str
    symbol: str
    side: Side
    order_type: str
    qty: Decimal
    price: Decimal = ZERO
    tif: str = "GTC"
    reduce_only: bool = False
    close_on_trigger: bool = False
    status: str = "New"
    avg_price: Decimal = ZERO
    cum_qty: Decimal = ZERO
    cum_value: Decimal = ZERO
    cum_fee: Decimal = ZERO
    take_profit: Decimal = ZERO
    stop_loss: Decimal = ZERO
    tp_trigger_by: str = ""
    sl_trigger_by: str = ""
    tpsl_mode: str = ""
    stop_order_type: str = ""
    trigger_price: Decimal = ZERO
    trigger_by: str = ""
    trigger_direction: int = 0
    parent_link_id: str = ""
    create_type: str = "CreateByUser"
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    last_price_on_created: Decimal = ZERO
    created: int = 0
    updated: int = 0
    seq: int = 0
    # Partial-mode TP/SL (create-order.mdx): on an entry, how its TP/SL orders execute once triggered
    tp_order_type: str = ""
    sl_order_type: str = ""
    tp_limit_price: Decimal = ZERO
    sl_limit_price: Decimal = ZERO
    parent_id: str = ""  # a Partial TP/SL order: the orderId of the entry it was attached to ("" from trading-stop)
    pair_id: str = ""  # a Partial TP/SL order: its bound partner (the SL of its TP, or the TP of its SL)

    @property
    def leaves(self) -> Decimal:
        return ZERO if self.status in ("Filled", "Cancelled", "Rejected", "Deactivated", "PartiallyFilledCanceled") else self.qty - self.cum_qty

    @property
    def is_open(self) -> bool:
        return self.status in ("New", "PartiallyFilled", "Untriggered")

    def wire(self) -> dict[str, object]:
        leaves = self.leaves
        return {
            "orderId": self.order_id, "orderLinkId": self.link_id, "blockTradeId": "", "symbol": self.symbol,
            "price": fmt(self.price), "qty": fmt(self.qty), "side": self.side.value, "isLeverage": "",
            "positionIdx": 0, "orderStatus": self.status, "createType": self.create_type,
            "cancelType": self.cancel_type, "rejectReason": self.reject_reason,
            "avgPrice": fmt(self.avg_price) if self.cum_qty else "",
            "leavesQty": fmt(leaves), "leavesValue": fmt(leaves * self.price),
            "cumExecQty": fmt(self.cum_qty), "cumExecValue": fmt(self.cum_value),
            "cumExecFee": fmt(self.cum_fee), "cumFeeDetail": {"USDT": fmt(self.cum_fee)} if self.cum_fee else {},
            "timeInForce": self.tif, "orderType": self.order_type, "stopOrderType": self.stop_order_type,
            "orderIv": "", "marketUnit": "", "triggerPrice": fmt(self.trigger_price),
            "takeProfit": fmt(self.take_profit), "stopLoss": fmt(self.stop_loss),
            "tpTriggerBy": self.tp_trigger_by, "slTriggerBy": self.sl_trigger_by,
            "triggerDirection": self.trigger_direction,
            "triggerBy": self.trigger_by or ("LastPrice" if self.stop_order_type else ""),
            "lastPriceOnCreated": fmt(self.last_price_on_created), "basePrice": "",
            "reduceOnly": self.reduce_only, "closeOnTrigger": self.close_on_trigger, "placeType": "",
            "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": self.tpsl_mode,
            "tpLimitPrice": fmt(self.tp_limit_price) if self.tp_limit_price else "",
            "slLimitPrice": fmt(self.sl_limit_price) if self.sl_limit_price else "", "ocoTriggerBy": "", "parentOrderLinkId": self.parent_link_id,
            "createdTime": str(self.created), "updatedTime": str(self.updated),
            # order-list.mdx fields: no slippage tolerance, no extra fees, no RPI (retail price improvement) fills
            "slippageToleranceType": "UNKNOWN", "slippageTolerance": "", "extraFees": "",
            "rpiTakerAccess": False, "rpiMatchedQty": "0",
        }


@dataclass
class Position:
    """The one-way position slot (positionIdx 0) of a symbol, plus its TP/SL/trailing conditions."""

    symbol: str
    leverage: Decimal = Decimal(10)
    side: Side | None = None  # None while flat (the wire and the state file say "")
    size: Decimal = ZERO
    avg_price: Decimal = ZERO
    take_profit: Decimal = ZERO
    stop_loss: Decimal = ZERO
    tp_trigger_by: str = "LastPrice"
    sl_trigger_by: str = "LastPrice"
    trailing_stop: Decimal = ZERO
    active_price: Decimal = ZERO
    trail_active: bool = False
    trail_best: Decimal = ZERO
    open_fee: Decimal = ZERO  # opening fees not yet attributed to a closed-pnl record
    funding: Decimal = ZERO  # funding paid (+) / received (-) not yet attributed to a closed-pnl record
    cur_realised: Decimal = ZERO
    cum_realised: Decimal = ZERO
    created: int = 0
    updated: int = 0
    open_time: int = 0
    seq: int = -1
    tpsl_parent: str = ""  # orderLinkId of the order whose attached TP/SL created the system orders

    @property
    def trail_level(self) -> Decimal | None:
        """Current trailing-stop trigger price, or None when unset/not yet activated."""
        if not self.trailing_stop or not self.size or self.side is None:
            return None
        s = self.side.sign  # tradebot.rules.bybit_trail's level, in long space
        lvl = trail_level(self.trail_active, s * self.trail_best, self.trailing_stop)
        return None if lvl is None else s * lvl

    def upl(self, mark: Decimal) -> Decimal:
        if not self.size or self.side is None:
            return ZERO
        return (mark - self.avg_price) * self.size * self.side.sign

    def wire(self, mark: Decimal, liq: Decimal | None = None, breakeven: Decimal | None = None,
             mmr: Decimal = Decimal("0.005")) -> dict[str, object]:
        """The position/list row: positionValue at entry, IM and MM by mark price (position.mdx)."""
        value = self.size * self.avg_price
        im = self.size * mark / self.leverage
        mm = self.size * mark * mmr
        return {
            "positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": self.symbol,
            "side": self.side.value if self.side else "", "size": fmt(self.size), "avgPrice": fmt(self.avg_price),
            "positionValue": fmt(value), "tradeMode": 0, "positionStatus": "Normal", "autoAddMargin": 0,
            "adlRankIndicator": 2 if self.size else 0, "leverage": fmt(self.leverage),
            "positionBalance": fmt(im), "markPrice": fmt(mark), "liqPrice": fmt(liq) if liq else "",
            "bustPrice": "", "breakEvenPrice": fmt(breakeven) if breakeven and self.size else "",
            "sessionAvgPrice": "", "positionIM": fmt(im), "positionIMByMp": fmt(im), "positionMM": fmt(mm),
            "positionMMByMp": fmt(mm), "tpslMode": "Full",
            "takeProfit": fmt(self.take_profit), "stopLoss": fmt(self.stop_loss),
            "trailingStop": fmt(self.trailing_stop), "unrealisedPnl": fmt(self.upl(mark)),
            "curRealisedPnl": fmt(self.cur_realised), "cumRealisedPnl": fmt(self.cum_realised),
            "seq": self.seq, "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "",
            "createdTime": str(self.created), "updatedTime": str(self.updated), "openTime": self.open_time,
        }


@dataclass
class Execution:
    """One fill (execType Trade) or funding settlement (execType Funding)."""

    exec_id: str
    order_id: str
    link_id: str
    symbol: str
    side: Side
    order_type: str
    order_price: Decimal
    order_qty: Decimal
    leaves_qty: Decimal
    exec_type: str
    exec_price: Decimal
    exec_qty: Decimal
    exec_fee: Decimal
    fee_rate: Decimal
    is_maker: bool
    closed_size: Decimal
    exec_pnl: Decimal
    exec_time: int
    mark_price: Decimal
    seq: int
    stop_order_type: str = ""
    create_type: str = "CreateByUser"

    def wire(self) -> dict[str, object]:
        return {
            "symbol": self.symbol, "orderId": self.order_id, "orderLinkId": self.link_id, "side": self.side.value,
            "orderPrice": fmt(self.order_price), "orderQty": fmt(self.order_qty),
            "leavesQty": fmt(self.leaves_qty), "createType": self.create_type, "orderType": self.order_type,
            "stopOrderType": self.stop_order_type, "execFee": fmt(self.exec_fee), "execId": self.exec_id,
            "execPrice": fmt(self.exec_price), "execQty": fmt(self.exec_qty), "execType": self.exec_type,
            "execValue": fmt(self.exec_qty * self.exec_price), "execTime": str(self.exec_time),
            "feeCurrency": "USDT", "isMaker": self.is_maker, "feeRate": fmt(self.fee_rate),
            "tradeIv": "", "markIv": "", "markPrice": fmt(self.mark_price), "indexPrice": fmt(self.mark_price),
            "underlyingPrice": "", "blockTradeId": "",
            "closedSize": fmt(self.closed_size) if self.closed_size else "",  # "" on opening fills (execution.mdx)
            "execPnl": fmt(self.exec_pnl), "extraFees": "", "seq": self.seq,
        }


@dataclass
class ClosedPnl:
    """One closed-pnl record: the part of a position closed by one order's fill."""

    symbol: str
    order_id: str
    side: Side
    qty: Decimal
    order_price: Decimal
    order_type: str
    closed_size: Decimal
    avg_entry_price: Decimal
    avg_exit_price: Decimal
    closed_pnl: Decimal
    open_fee: Decimal
    close_fee: Decimal
    leverage: Decimal
    created: int
    updated: int
    exec_type: str = "Trade"
    fill_count: int = 1
    visible_at: int = 0  # wall-clock ms from which the row is listed (the closed_pnl_lag_ms fault; not on the wire)

    def wire(self) -> dict[str, object]:
        return {
            "symbol": self.symbol, "orderType": self.order_type, "leverage": fmt(self.leverage),
            "updatedTime": str(self.updated), "side": self.side.value, "orderId": self.order_id,
            "closedPnl": fmt(self.closed_pnl), "openFee": fmt(self.open_fee), "closeFee": fmt(self.close_fee),
            "avgEntryPrice": fmt(self.avg_entry_price), "qty": fmt(self.qty),
            "cumEntryValue": fmt(self.avg_entry_price * self.closed_size), "createdTime": str(self.created),
            "orderPrice": fmt(self.order_price), "closedSize": fmt(self.closed_size),
            "avgExitPrice": fmt(self.avg_exit_price), "execType": self.exec_type,
            "fillCount": str(self.fill_count), "cumExitValue": fmt(self.avg_exit_price * self.closed_size),
        }


class SimRejection(Exception):
    """A business rejection carrying Bybit's wire retCode and retMsg."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code, self.msg = code, msg


@dataclass(frozen=True)
class Fees:
    """Fee rates charged on fill notional (Bybit non-VIP defaults)."""

    taker: Decimal = Decimal("0.00055")
    maker: Decimal = Decimal("0.0002")


@dataclass
class OrderRequest:
    """Validated-by-type parameters of POST /v5/order/create."""

    symbol: str
    side: Side
    order_type: str
    qty: Decimal
    price: Decimal | None = None
    tif: str = "GTC"
    link_id: str = ""
    reduce_only: bool = False
    close_on_trigger: bool = False
    take_profit: Decimal = ZERO
    stop_loss: Decimal = ZERO
    tp_trigger_by: str = "LastPrice"
    sl_trigger_by: str = "LastPrice"
    tpsl_mode: str = ""
    tp_order_type: str = ""  # Partial mode: "Limit" rests a limit at tp_limit_price once triggered
    sl_order_type: str = ""
    tp_limit_price: Decimal = ZERO
    sl_limit_price: Decimal = ZERO

    def __post_init__(self) -> None:
        self.side = Side(self.side)  # in-process callers (tests, bench) may pass the wire string "Buy"/"Sell"
