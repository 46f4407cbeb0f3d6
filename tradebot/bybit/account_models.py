"""Typed Bybit v5 account payloads (orders, executions, positions, closed PnL, wallet, account info, fee rates):
frozen dataclasses with Decimal money, parsed from the wire's strings."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal
from typing import Any

from tradebot.bybit.parse import dec, field, ms, opt_price, opt_side, req_dec, side
from tradebot.errors import ExchangeError
from tradebot.money import ZERO
from tradebot.side import Side

SETTLE_COIN = "USDT"  # linear USDT perpetuals settle, and charge fees, in USDT


@dataclass(frozen=True, slots=True)
class OrderAck:
    """What order create/cancel return: ids only. Accepted is not filled."""

    order_id: str
    order_link_id: str


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    order_link_id: str
    symbol: str
    side: Side
    order_type: str
    status: str
    price: Decimal
    qty: Decimal
    avg_price: Decimal | None  # None until something filled
    cum_exec_qty: Decimal
    cum_exec_value: Decimal
    cum_exec_fee: Decimal
    leaves_qty: Decimal
    take_profit: Decimal | None
    stop_loss: Decimal | None
    reduce_only: bool
    stop_order_type: str
    reject_reason: str
    created_ms: int
    updated_ms: int
    other_fees: dict[str, Decimal] = dc_field(default_factory=dict)  # fees charged in coins other than USDT
    # order/open-order.mdx: how it was placed and why it ended (a PostOnly that would take: Cancelled with
    # rejectReason EC_PostOnlyWillTakeLiquidity); Partial TP/SL orders carry tpslMode/triggerPrice/parentOrderLinkId
    time_in_force: str = ""
    cancel_type: str = ""
    create_type: str = ""
    trigger_price: Decimal | None = None
    tpsl_mode: str = ""  # Full / Partial ("" without TP/SL)
    tp_limit_price: Decimal | None = None
    sl_limit_price: Decimal | None = None
    parent_order_link_id: str = ""

    FINAL = frozenset({"Filled", "Cancelled", "Rejected", "Deactivated", "PartiallyFilledCanceled"})

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def post_only_cancelled(self) -> bool:
        """A PostOnly that would have taken liquidity, cancelled by Bybit (enum.mdx#rejectreason)."""
        return self.reject_reason == "EC_PostOnlyWillTakeLiquidity"

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> Order:
        # order/open-order.mdx, order/order-list.mdx: for linear, cumExecFee is deprecated ("Use cumFeeDetail
        # instead") and the docs' own example has "cumExecFee":"0" beside a real fee in cumFeeDetail. The USDT
        # (settle coin) fee is read from cumFeeDetail; fees in other coins are kept apart, never added to it.
        detail = row.get("cumFeeDetail")
        if isinstance(detail, dict) and detail:
            fees = {str(coin): req_dec(v, f"cumFeeDetail.{coin}") for coin, v in detail.items()}
            fee = fees.pop(SETTLE_COIN, ZERO)
        else:
            fees, fee = {}, dec(row.get("cumExecFee")) or ZERO
        return cls(
            order_id=field(row, "orderId"),
            order_link_id=row.get("orderLinkId", ""),
            symbol=field(row, "symbol"),
            side=side(field(row, "side")),
            order_type=row.get("orderType", ""),
            status=field(row, "orderStatus"),
            price=dec(row.get("price")) or ZERO,
            qty=req_dec(row.get("qty"), "qty"),
            avg_price=opt_price(row.get("avgPrice")),
            cum_exec_qty=dec(row.get("cumExecQty")) or ZERO,
            cum_exec_value=dec(row.get("cumExecValue")) or ZERO,
            cum_exec_fee=fee,
            leaves_qty=dec(row.get("leavesQty")) or ZERO,
            take_profit=opt_price(row.get("takeProfit")),
            stop_loss=opt_price(row.get("stopLoss")),
            reduce_only=bool(row.get("reduceOnly", False)),
            stop_order_type=row.get("stopOrderType", "") or "",
            reject_reason=row.get("rejectReason", "") or "",
            created_ms=ms(row.get("createdTime")),
            updated_ms=ms(row.get("updatedTime")),
            other_fees=fees,
            time_in_force=row.get("timeInForce", "") or "",
            cancel_type=row.get("cancelType", "") or "",
            create_type=row.get("createType", "") or "",
            trigger_price=opt_price(row.get("triggerPrice")),
            tpsl_mode=row.get("tpslMode", "") or "",
            tp_limit_price=opt_price(row.get("tpLimitPrice")),
            sl_limit_price=opt_price(row.get("slLimitPrice")),
            parent_order_link_id=row.get("parentOrderLinkId", "") or "",
        )


@dataclass(frozen=True, slots=True)
class Execution:
    exec_id: str
    order_id: str
    order_link_id: str
    symbol: str
    side: Side | None  # None: the wire gave none
    exec_type: str  # Trade, Funding, BustTrade, AdlTrade, ...
    exec_price: Decimal
    exec_qty: Decimal
    exec_value: Decimal
    exec_fee: Decimal
    fee_rate: Decimal
    is_maker: bool
    closed_size: Decimal
    stop_order_type: str  # TakeProfit / StopLoss / TrailingStop / "" ...
    order_type: str
    exec_time_ms: int
    fee_currency: str = SETTLE_COIN  # "" on the wire for linear means the settle coin (order/execution.mdx)
    order_qty: Decimal = ZERO
    order_price: Decimal = ZERO
    leaves_qty: Decimal = ZERO  # what the order still has to fill after this execution
    create_type: str = ""  # CreateByUser, CreateByPartialTakeProfit, ...

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> Execution:
        return cls(
            exec_id=field(row, "execId"),
            order_id=row.get("orderId", ""),
            order_link_id=row.get("orderLinkId", ""),
            symbol=field(row, "symbol"),
            side=opt_side(row.get("side")),
            exec_type=row.get("execType", "Trade"),
            exec_price=dec(row.get("execPrice")) or ZERO,
            exec_qty=dec(row.get("execQty")) or ZERO,
            exec_value=dec(row.get("execValue")) or ZERO,
            exec_fee=dec(row.get("execFee")) or ZERO,
            fee_rate=dec(row.get("feeRate")) or ZERO,
            is_maker=bool(row.get("isMaker", False)),
            closed_size=dec(row.get("closedSize")) or ZERO,
            stop_order_type=row.get("stopOrderType", "") or "",
            order_type=row.get("orderType", "") or "",
            exec_time_ms=ms(row.get("execTime")),
            fee_currency=row.get("feeCurrency") or SETTLE_COIN,
            order_qty=dec(row.get("orderQty")) or ZERO,
            order_price=dec(row.get("orderPrice")) or ZERO,
            leaves_qty=dec(row.get("leavesQty")) or ZERO,
            create_type=row.get("createType", "") or "",
        )


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    side: Side | None  # Buy long, Sell short; None flat (the wire's "", or "None" on classic accounts)
    size: Decimal
    avg_price: Decimal
    mark_price: Decimal
    liq_price: Decimal | None
    take_profit: Decimal | None
    stop_loss: Decimal | None
    trailing_stop: Decimal | None  # a price DISTANCE, not a price
    unrealised_pnl: Decimal
    cur_realised_pnl: Decimal
    cum_realised_pnl: Decimal
    leverage: Decimal
    position_idx: int
    position_value: Decimal
    status: str
    updated_ms: int
    open_time_ms: int

    @property
    def is_open(self) -> bool:
        return self.size > 0 and self.side is not None

    @property
    def held(self) -> Side:
        """An open position's side (``ValueError`` on a flat one: check :attr:`is_open` first)."""
        if self.side is None:
            raise ValueError(f"{self.symbol}: a flat position has no side")
        return self.side

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> Position:
        size = dec(row.get("size")) or ZERO
        return cls(
            symbol=field(row, "symbol"),
            side=opt_side(row.get("side")),
            size=size,
            avg_price=dec(row.get("avgPrice", row.get("entryPrice"))) or ZERO,
            mark_price=dec(row.get("markPrice")) or ZERO,
            liq_price=opt_price(row.get("liqPrice")),
            take_profit=opt_price(row.get("takeProfit")),
            stop_loss=opt_price(row.get("stopLoss")),
            trailing_stop=opt_price(row.get("trailingStop")),
            unrealised_pnl=dec(row.get("unrealisedPnl")) or ZERO,
            cur_realised_pnl=dec(row.get("curRealisedPnl")) or ZERO,
            cum_realised_pnl=dec(row.get("cumRealisedPnl")) or ZERO,
            leverage=dec(row.get("leverage")) or ZERO,
            position_idx=int(row.get("positionIdx", 0) or 0),
            position_value=dec(row.get("positionValue")) or ZERO,
            status=row.get("positionStatus", "Normal") or "Normal",
            updated_ms=ms(row.get("updatedTime")),
            open_time_ms=ms(row.get("openTime")),
        )


@dataclass(frozen=True, slots=True)
class ClosedPnl:
    symbol: str
    order_id: str  # the closing order
    side: Side  # the closing order's side (Sell closes a long)
    qty: Decimal
    closed_size: Decimal
    avg_entry_price: Decimal
    avg_exit_price: Decimal
    closed_pnl: Decimal  # net of open and close fees
    open_fee: Decimal
    close_fee: Decimal
    exec_type: str
    order_type: str
    leverage: Decimal
    created_ms: int
    updated_ms: int

    @property
    def position_side(self) -> Side:
        return self.side.opposite

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> ClosedPnl:
        return cls(
            symbol=field(row, "symbol"),
            order_id=field(row, "orderId"),
            side=side(field(row, "side")),
            qty=dec(row.get("qty")) or ZERO,
            closed_size=dec(row.get("closedSize")) or ZERO,
            avg_entry_price=req_dec(row.get("avgEntryPrice"), "avgEntryPrice"),
            avg_exit_price=req_dec(row.get("avgExitPrice"), "avgExitPrice"),
            closed_pnl=req_dec(row.get("closedPnl"), "closedPnl"),
            open_fee=dec(row.get("openFee")) or ZERO,
            close_fee=dec(row.get("closeFee")) or ZERO,
            exec_type=row.get("execType", "") or "",
            order_type=row.get("orderType", "") or "",
            leverage=dec(row.get("leverage")) or ZERO,
            created_ms=ms(row.get("createdTime")),
            updated_ms=ms(row.get("updatedTime")),
        )


@dataclass(frozen=True, slots=True)
class Wallet:
    """UNIFIED account balance. ``available`` is what new orders may use (USD ≈ USDT)."""

    total_equity: Decimal
    wallet_balance: Decimal
    available: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    unrealised_pnl: Decimal
    coin: str
    coin_wallet_balance: Decimal
    coin_equity: Decimal

    @classmethod
    def from_api(cls, res: dict[str, Any], coin: str = "USDT") -> Wallet:
        accounts = res.get("list") or []
        if not accounts:
            raise ExchangeError("wallet-balance returned no account")
        acct = accounts[0]
        coins = {c.get("coin"): c for c in acct.get("coin") or []}
        c = coins.get(coin, {})
        return cls(
            total_equity=dec(acct.get("totalEquity")) or ZERO,
            wallet_balance=dec(acct.get("totalWalletBalance")) or ZERO,
            available=dec(acct.get("totalAvailableBalance")) or ZERO,
            initial_margin=dec(acct.get("totalInitialMargin")) or ZERO,
            maintenance_margin=dec(acct.get("totalMaintenanceMargin")) or ZERO,
            unrealised_pnl=dec(acct.get("totalPerpUPL")) or ZERO,
            coin=coin,
            coin_wallet_balance=dec(c.get("walletBalance")) or ZERO,
            coin_equity=dec(c.get("equity")) or ZERO,
        )


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """``/v5/account/info`` (account/account-info.mdx): account status and margin mode."""

    unified_margin_status: int  # enum.mdx#unifiedmarginstatus: 1 classic, 3/4 UTA 1.0, 5/6 UTA 2.0
    margin_mode: str  # ISOLATED_MARGIN | REGULAR_MARGIN (cross) | PORTFOLIO_MARGIN
    updated_ms: int

    @property
    def unified(self) -> bool:
        return self.unified_margin_status in (3, 4, 5, 6)

    @classmethod
    def from_api(cls, res: dict[str, Any]) -> AccountInfo:
        try:
            status = int(field(res, "unifiedMarginStatus"))
        except (TypeError, ValueError):
            raise ExchangeError(
                f"malformed Bybit account info: unifiedMarginStatus {res.get('unifiedMarginStatus')!r}") from None
        return cls(unified_margin_status=status, margin_mode=str(field(res, "marginMode")),
                   updated_ms=ms(res.get("updatedTime")))


@dataclass(frozen=True, slots=True)
class FeeRate:
    """One ``/v5/account/fee-rate`` row (account/fee-rate.mdx): this account's rates for a symbol."""

    symbol: str
    taker: Decimal
    maker: Decimal

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> FeeRate:
        return cls(symbol=str(field(row, "symbol")), taker=req_dec(row.get("takerFeeRate"), "takerFeeRate"),
                   maker=req_dec(row.get("makerFeeRate"), "makerFeeRate"))
