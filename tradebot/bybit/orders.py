"""Typed Bybit v5 order requests: the enums of order/create-order.mdx and position/trading-stop.mdx, and frozen
dataclasses of one order create (:class:`NewOrder`), one trading-stop call (:class:`TradingStop`), one order named
for a lookup or a cancel (:class:`OrderRef`) and one amend (:class:`Amend`). Each checks Bybit's documented
combinations when built (``ValueError`` before anything is sent) and is encoded to the wire in one place
(``body``/``params``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from tradebot.bybit.http import CATEGORY, _wire
from tradebot.side import Side

Wire = dict[str, str | int | bool | None]
E = TypeVar("E", bound=StrEnum)
_LINK_ID = re.compile(r"[A-Za-z0-9_-]{1,36}")


class OrderType(StrEnum):
    """enum.mdx#ordertype (also tpOrderType/slOrderType: how a TP/SL executes once triggered)."""

    MARKET = "Market"
    LIMIT = "Limit"


class TimeInForce(StrEnum):
    """enum.mdx#timeinforce. PostOnly: "If the order would be filled immediately when submitted, it will be
    cancelled" (create-order.mdx), so it only ever fills as maker."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "PostOnly"


class TpslMode(StrEnum):
    """Full: the TP/SL are the whole position's, Market only. Partial: TP/SL orders of their own size (the entry's
    filled qty, or tpSize/slSize on trading-stop), Market or Limit."""

    FULL = "Full"
    PARTIAL = "Partial"


class TriggerBy(StrEnum):
    """enum.mdx#triggerby."""

    LAST_PRICE = "LastPrice"
    MARK_PRICE = "MarkPrice"
    INDEX_PRICE = "IndexPrice"


def as_enum(cls: type[E], value: Any, name: str) -> E:
    """``value`` (a member or its wire string) as ``cls``; a clear ValueError naming what is allowed."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}") from None


def opt_enum(cls: type[E], value: object, name: str) -> E | None:
    return None if value is None or value == "" else as_enum(cls, value, name)


_ENUMS: dict[str, type[StrEnum]] = {
    "side": Side, "order_type": OrderType, "time_in_force": TimeInForce, "tpsl_mode": TpslMode,
    "tp_trigger_by": TriggerBy, "sl_trigger_by": TriggerBy, "tp_order_type": OrderType, "sl_order_type": OrderType,
}


def _coerce(request: object) -> None:
    """Enum fields given as wire strings ("Buy", "PostOnly") become members; "" means unset; else ValueError."""
    for name, cls in _ENUMS.items():
        value = getattr(request, name, None)
        if isinstance(value, str) and not isinstance(value, cls):
            required = name in ("side", "order_type")
            object.__setattr__(request, name, as_enum(cls, value, name) if value or required else None)


def _positive(**prices: Decimal | None) -> None:
    for name, v in prices.items():
        if v is not None and v <= 0:
            raise ValueError(f"{name} must be positive, got {v}")


def _leg(kind: str, level: Decimal | None, order_type: OrderType | None, limit: Decimal | None,
         mode: TpslMode | None) -> None:
    """One TP or SL side: Limit needs Partial and a limit price; a limit price needs Limit and its level
    (create-order.mdx / trading-stop.mdx: tpLimitPrice "only works when tpslMode=Partial and tpOrderType=Limit";
    "For tpslMode=Full, it only supports tpOrderType=Market")."""
    if order_type is OrderType.LIMIT:
        if mode is not TpslMode.PARTIAL:
            raise ValueError(f"a Limit {kind} needs tpsl_mode Partial (Full supports Market only)")
        if limit is None or level is None:
            raise ValueError(f"a Limit {kind} needs its trigger price and {kind}_limit_price")
    elif limit is not None:
        raise ValueError(f"{kind}_limit_price only applies to {kind}_order_type Limit")
    if order_type is not None and level is None:
        raise ValueError(f"{kind}_order_type without a {kind} trigger price")


@dataclass(frozen=True, slots=True)
class NewOrder:
    """One ``POST /v5/order/create`` (order/create-order.mdx) for a linear perpetual in one-way mode.

    ``price`` is required for (and only for) a Limit order; PostOnly is a Limit's; ``qty`` 0 closes the whole
    position only with ``reduce_only`` and ``close_on_trigger``; a reduce-only order takes no TP/SL. With
    ``tpsl_mode`` Partial, ``tp_order_type`` Limit and ``tp_limit_price``, the take-profit rests as a reduce-only
    limit (maker) once its trigger is reached, sized by what the entry filled.
    """

    symbol: str
    side: Side
    qty: Decimal
    order_link_id: str
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    tpsl_mode: TpslMode | None = None
    tp_trigger_by: TriggerBy | None = None
    sl_trigger_by: TriggerBy | None = None
    tp_order_type: OrderType | None = None
    sl_order_type: OrderType | None = None
    tp_limit_price: Decimal | None = None
    sl_limit_price: Decimal | None = None
    reduce_only: bool = False
    close_on_trigger: bool = False
    position_idx: int = 0

    def __post_init__(self) -> None:
        _coerce(self)
        if not self.order_link_id:
            raise ValueError("every order needs an orderLinkId")
        if not _LINK_ID.fullmatch(self.order_link_id):
            raise ValueError(f"orderLinkId must be 1-36 of [A-Za-z0-9_-], not {self.order_link_id!r}")
        if self.qty < 0 or (self.qty == 0 and not (self.reduce_only and self.close_on_trigger)):
            raise ValueError(f"qty must be positive (0 only closes a position with reduce_only and "
                             f"close_on_trigger), got {self.qty}")
        _positive(price=self.price, take_profit=self.take_profit, stop_loss=self.stop_loss,
                  tp_limit_price=self.tp_limit_price, sl_limit_price=self.sl_limit_price)
        if self.order_type is OrderType.LIMIT and self.price is None:
            raise ValueError("a Limit order needs a price")
        if self.order_type is OrderType.MARKET and self.price is not None:
            raise ValueError("a Market order takes no price (create-order.mdx: it is ignored)")
        if self.time_in_force is TimeInForce.POST_ONLY and self.order_type is not OrderType.LIMIT:
            raise ValueError("PostOnly is for Limit orders (enum.mdx: EC_MarketOrderCannotBePostOnly)")
        if self.reduce_only and (self.take_profit is not None or self.stop_loss is not None):
            raise ValueError("a reduce-only order cannot carry TP/SL (create-order.mdx)")
        _leg("tp", self.take_profit, self.tp_order_type, self.tp_limit_price, self.tpsl_mode)
        _leg("sl", self.stop_loss, self.sl_order_type, self.sl_limit_price, self.tpsl_mode)

    @classmethod
    def of(cls, **fields: Any) -> NewOrder:
        """Built from wire strings or members (the keyword form ``BybitClient.place_order`` takes)."""
        return cls(**fields)

    def body(self) -> Wire:
        """The create-order JSON body (``None`` fields are not sent). TP/SL go with a tpslMode (Full unless
        said); trigger types and order types only with their level."""
        tp, sl = self.take_profit is not None, self.stop_loss is not None
        return {
            "category": CATEGORY, "symbol": self.symbol, "side": self.side.value, "orderType": self.order_type.value,
            "qty": _wire(self.qty), "price": _wire(self.price), "timeInForce": _val(self.time_in_force),
            "positionIdx": self.position_idx, "orderLinkId": self.order_link_id,
            "takeProfit": _wire(self.take_profit), "stopLoss": _wire(self.stop_loss),
            "tpslMode": (self.tpsl_mode or TpslMode.FULL).value if tp or sl else None,
            "tpTriggerBy": _val(self.tp_trigger_by) if tp else None,
            "slTriggerBy": _val(self.sl_trigger_by) if sl else None,
            "tpOrderType": _val(self.tp_order_type), "slOrderType": _val(self.sl_order_type),
            "tpLimitPrice": _wire(self.tp_limit_price), "slLimitPrice": _wire(self.sl_limit_price),
            "reduceOnly": True if self.reduce_only else None,
            "closeOnTrigger": True if self.close_on_trigger else None,
        }


@dataclass(frozen=True, slots=True)
class TradingStop:
    """One ``POST /v5/position/trading-stop`` (position/trading-stop.mdx).

    Full (default): sets the whole position's TP/SL/trailing stop (``0`` removes one; ``trailing_stop`` is a price
    DISTANCE). Partial: "can only add" TP and/or SL orders of ``tp_size``/``sl_size`` ("must equal"), Market or
    Limit (``tp_order_type`` Limit with ``tp_limit_price``); no trailing stop.
    """

    symbol: str
    tpsl_mode: TpslMode = TpslMode.FULL
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    trailing_stop: Decimal | None = None
    active_price: Decimal | None = None
    tp_trigger_by: TriggerBy | None = None
    sl_trigger_by: TriggerBy | None = None
    tp_size: Decimal | None = None
    sl_size: Decimal | None = None
    tp_order_type: OrderType | None = None
    sl_order_type: OrderType | None = None
    tp_limit_price: Decimal | None = None
    sl_limit_price: Decimal | None = None
    position_idx: int = 0

    def __post_init__(self) -> None:
        _coerce(self)
        if not isinstance(self.tpsl_mode, TpslMode):
            raise ValueError("tpsl_mode is required: Full or Partial")
        for name in ("take_profit", "stop_loss", "trailing_stop", "active_price", "tp_size", "sl_size",
                     "tp_limit_price", "sl_limit_price"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        _leg("tp", self.take_profit, self.tp_order_type, self.tp_limit_price, self.tpsl_mode)
        _leg("sl", self.stop_loss, self.sl_order_type, self.sl_limit_price, self.tpsl_mode)
        if self.tpsl_mode is TpslMode.FULL:
            if self.tp_size is not None or self.sl_size is not None:
                raise ValueError("tp_size/sl_size are for tpsl_mode Partial (Full is the whole position)")
            return
        if self.trailing_stop is not None or self.active_price is not None:
            raise ValueError("a trailing stop is the whole position's: tpsl_mode Full")
        if not self.take_profit and not self.stop_loss:
            raise ValueError("tpsl_mode Partial adds a TP and/or SL: give take_profit or stop_loss (0 removes "
                             "nothing: cancel a Partial TP/SL by its order id)")
        for kind, level, size in (("tp", self.take_profit, self.tp_size), ("sl", self.stop_loss, self.sl_size)):
            if level is not None and not size:
                raise ValueError(f"a Partial {kind} needs {kind}_size")
        if self.take_profit and self.stop_loss and self.tp_size != self.sl_size:
            raise ValueError("tp_size and sl_size must be equal (trading-stop.mdx)")

    @classmethod
    def of(cls, **fields: Any) -> TradingStop:
        """Built from wire strings or members (the keyword form ``BybitClient.set_trading_stop`` takes)."""
        return cls(**fields)

    def body(self) -> Wire:
        return {
            "category": CATEGORY, "symbol": self.symbol, "tpslMode": self.tpsl_mode.value,
            "positionIdx": self.position_idx, "takeProfit": _wire(self.take_profit),
            "stopLoss": _wire(self.stop_loss), "trailingStop": _wire(self.trailing_stop),
            "activePrice": _wire(self.active_price), "tpTriggerBy": _val(self.tp_trigger_by),
            "slTriggerBy": _val(self.sl_trigger_by), "tpSize": _wire(self.tp_size), "slSize": _wire(self.sl_size),
            "tpOrderType": _val(self.tp_order_type), "slOrderType": _val(self.sl_order_type),
            "tpLimitPrice": _wire(self.tp_limit_price), "slLimitPrice": _wire(self.sl_limit_price),
        }


@dataclass(frozen=True, slots=True)
class OrderRef:
    """One order of ``symbol`` named by ``order_id`` and/or ``order_link_id`` (order/open-order.mdx,
    order/cancel-order.mdx): what ``get_order`` and ``cancel_order`` send."""

    symbol: str
    order_id: str | None = None
    order_link_id: str | None = None

    def params(self) -> Wire:
        return {"category": CATEGORY, "symbol": self.symbol, "orderId": self.order_id,
                "orderLinkId": self.order_link_id}


@dataclass(frozen=True, slots=True)
class Amend:
    """One ``POST /v5/order/amend`` (order/amend-order.mdx): a new ``qty`` and/or ``price`` for an open order
    named by its id or orderLinkId."""

    order: OrderRef
    qty: Decimal | None = None
    price: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.order.order_id and not self.order.order_link_id:
            raise ValueError("amend needs order_id or order_link_id")
        if self.qty is None and self.price is None:
            raise ValueError("amend needs a new qty or price")
        _positive(qty=self.qty, price=self.price)

    def body(self) -> Wire:
        return {**self.order.params(), "qty": _wire(self.qty), "price": _wire(self.price)}


def _val(member: StrEnum | None) -> str | None:
    return None if member is None else member.value
