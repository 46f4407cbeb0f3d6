"""The maker-first entry (``[execution] mode = "maker_first"``): a PostOnly limit at the touch, re-priced a few
times, then a market order or nothing; the take-profit as a reduce-only limit (maker) for the filled size.

Pages (Bybit v5, the simulator follows them): order/create-order.mdx (``timeInForce=PostOnly``: "If the order
would be filled immediately when submitted, it will be cancelled"; TP/SL on the order, ``tpslMode``),
order/amend-order.mdx (re-price an unfilled or partially filled order), order/cancel-order.mdx (the rest of a
partly filled order; "Cancelled" keeps its fills in derivatives, enum.mdx), position/trading-stop.mdx
(``tpslMode=Partial`` with ``tpSize``, ``tpOrderType=Limit`` and ``tpLimitPrice``: a take-profit of its own size
that rests as a limit once triggered).

The order of things keeps the position protected from its first fill: the PostOnly entry carries the Full-mode
stop-loss (a market stop on the whole position, which break-even and trailing then move as before); the limit
take-profit is added with trading-stop once the entry is done, for exactly what filled. No Partial stop-loss is
attached (a Partial TP and SL created together are bound as one-cancels-the-other, and the bot's stop management
works on the Full-mode stop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from tradebot.bybit.account_models import Order
from tradebot.bybit.client import BybitClient
from tradebot.bybit.orders import NewOrder, OrderType, TimeInForce, TpslMode, TradingStop, TriggerBy
from tradebot.errors import BybitAPIError, ExchangeError
from tradebot.side import Side
from tradebot.sizing.execution import ExecutionSettings, touch_price
from tradebot.sizing.instruments import Instrument

log = logging.getLogger("tradebot.care.maker_entry")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class MakerOutcome:
    """What the limit came to: the final order (None: never accepted) and how many times it was re-priced."""

    order: Order | None
    reprices: int
    error: str | None = None

    @property
    def filled(self) -> bool:
        return self.order is not None and self.order.cum_exec_qty > 0


def entry_order(symbol: str, side: Side, qty: Decimal, price: Decimal, sl: Decimal, link: str) -> NewOrder:
    """The PostOnly limit entry with the Full-mode market stop-loss attached (create-order.mdx)."""
    return NewOrder(symbol=symbol, side=side, qty=qty, order_link_id=link, order_type=OrderType.LIMIT, price=price,
                    time_in_force=TimeInForce.POST_ONLY, stop_loss=sl, tpsl_mode=TpslMode.FULL,
                    sl_trigger_by=TriggerBy.LAST_PRICE)


def limit_take_profit(symbol: str, tp: Decimal, size: Decimal) -> TradingStop:
    """The take-profit as a reduce-only limit for ``size`` (trading-stop.mdx, tpslMode Partial, tpOrderType
    Limit): it triggers at ``tp`` and rests there, so it fills as maker."""
    return TradingStop(symbol=symbol, tpsl_mode=TpslMode.PARTIAL, take_profit=tp, tp_size=size,
                       tp_order_type=OrderType.LIMIT, tp_limit_price=tp, tp_trigger_by=TriggerBy.LAST_PRICE)


async def rest_limit(client: BybitClient, *, symbol: str, side: Side, qty: Decimal, sl: Decimal, link: str,
                     inst: Instrument, execution: ExecutionSettings, sleep: Sleep = asyncio.sleep) -> MakerOutcome:
    """Post the entry at the touch, look ``reprice_max + 1`` times over ``reprice_window_s`` seconds and move it
    to the new touch when it is not filled, then cancel what is left. The returned order is final (or the last
    state seen): its ``cum_exec_qty`` is the position it opened, possibly part of ``qty``."""
    ticker = await client.ticker(symbol)
    last = ticker.last_price
    price = touch_price(side, ticker.bid1 or last, ticker.ask1 or last, inst)
    try:
        ack = await client.place(entry_order(symbol, side, qty, price, sl, link))
    except BybitAPIError as exc:
        return MakerOutcome(None, 0, str(exc))
    order: Order | None = None
    reprices = 0
    for look in range(execution.reprice_max + 1):
        await sleep(execution.wait_between())
        order = await client.get_order(symbol, order_id=ack.order_id or None, order_link_id=link)
        if order is None or order.is_final:
            break
        if look == execution.reprice_max:
            break
        ticker = await client.ticker(symbol)
        new = touch_price(side, ticker.bid1 or ticker.last_price, ticker.ask1 or ticker.last_price, inst)
        if new != order.price:
            moved = await client.amend_order(symbol, order_link_id=link, price=new)
            reprices += moved is not None
    if order is not None and not order.is_final:
        await client.cancel_order(symbol, order_link_id=link)  # the rest; what filled stays the position
        order = await client.get_order(symbol, order_link_id=link)
    return MakerOutcome(order, reprices)


async def add_limit_take_profit(client: BybitClient, symbol: str, tp: Decimal, size: Decimal) -> str | None:
    """Add the maker take-profit for ``size``; the reason when it could not be set (the stop still protects)."""
    try:
        await client.trading_stop(limit_take_profit(symbol, tp, size))
    except ExchangeError as exc:
        log.warning("%s: limit take-profit not set: %s", symbol, exc)
        return str(exc)
    return None


def limit_take_profits(orders: list[Order]) -> list[Order]:
    """A maker-first trade's take-profit orders: Partial limit ones, not on the position row (position.mdx)."""
    return [o for o in orders if o.stop_order_type == "PartialTakeProfit"]


async def limit_take_profit_price(client: BybitClient, symbol: str) -> Decimal | None:
    """The price of ``symbol``'s maker take-profit (None: none, or the orders could not be read)."""
    try:
        orders = limit_take_profits(await client.open_orders(symbol))
    except ExchangeError:
        return None
    return next((o.price or o.trigger_price for o in orders), None)


async def move_limit_take_profit(client: BybitClient, symbol: str, tp: Decimal, size: Decimal) -> bool:
    """Move the maker take-profit: the new one first (the position is never without one), then the old ones
    cancelled. False when there was none to move (the target is the position's own, Full-mode one)."""
    old = limit_take_profits(await client.open_orders(symbol))
    if not old:
        return False
    await client.trading_stop(limit_take_profit(symbol, tp, size))
    for o in old:
        await client.cancel_order(symbol, order_id=o.order_id)
    return True
