"""Partial-mode TP/SL (``tpslMode=Partial``): take-profit and stop-loss orders of their own size, each a system
conditional order, Market or Limit once triggered (order/create-order.mdx, position/trading-stop.mdx, enum.mdx).

- **Where they come from.** An entry created with ``tpslMode=Partial`` and ``takeProfit``/``stopLoss`` gets them
  "with the qty you actually fill" (create-order.mdx): the first opening fill creates them, each further fill of
  the same entry grows them to what it has opened (one TP/SL per entry; ``parentOrderLinkId`` = the entry's link
  id). ``/v5/position/trading-stop`` with ``tpslMode=Partial`` "can only add" them, ``tpSize``/``slSize`` each time
  (trading-stop.mdx), at most 20 of each kind per symbol (110061, error.mdx).
- **The orders.** ``stopOrderType`` PartialTakeProfit / PartialStopLoss, ``createType`` CreateByPartialTakeProfit /
  CreateByPartialStopLoss, ``tpslMode`` Partial, ``orderStatus`` Untriggered, reduceOnly + closeOnTrigger,
  ``triggerPrice``/``triggerBy``/``triggerDirection`` like the Full-mode ones; ``orderType`` Limit with ``price`` =
  ``tpLimitPrice``/``slLimitPrice`` (timeInForce GTC), or Market (IOC, price 0). They are not the position's
  TP/SL: the position row keeps showing the Full-mode ones (position.mdx: ``tpslMode`` "always Full").
- **Trigger.** When the last price (or the mark price, for MarkPrice/IndexPrice) reaches the trigger, the order
  is Triggered with its qty capped at the position: a Market one fills at once as taker; a Limit one becomes an
  active limit order (``orderStatus`` New, same orderId) at its limit price, filled by the resting-limit rule
  (maker: ``proving.sim.resting``), or at once as taker if that price is already marketable. A TP and SL created
  together are bound: the trigger of one Deactivates the other (enum.mdx cancelType
  CancelByOCOSlCanceledByTpTriggered / CancelByOCOTpCanceledBySlTriggered); cancelling one unbinds the other.
- **Position closed or flipped.** Untriggered ones are Deactivated (CancelByTpSlTsClear, as Full-mode ones); a
  triggered limit resting reduce-only is Cancelled (CancelByReduceOnly, by ``Exchange.fill``). Reduced below
  their size, they keep it and are capped at the position when they trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradebot.market_model.book import market_fill_price
from tradebot.money import ZERO
from tradebot.side import Side

from .books import Books
from .models import Execution, Order, SimRejection
from .tpsl import check_tpsl_vs_price

TP, SL = "PartialTakeProfit", "PartialStopLoss"
KINDS = (TP, SL)
MAX_PER_KIND = 20  # error.mdx 110061: "Not allowed to have more than 20 TP/SLs under Partial tpSlMode"
OCO_CANCEL = {TP: "CancelByOCOSlCanceledByTpTriggered", SL: "CancelByOCOTpCanceledBySlTriggered"}


@dataclass(frozen=True)
class Leg:
    """One side of a Partial TP/SL: trigger level and type, and how it executes (``limit`` 0 = Market)."""

    kind: str
    trigger: Decimal
    trigger_by: str
    limit: Decimal = ZERO


def untriggered(ex: Books, symbol: str) -> list[Order]:
    """The symbol's untriggered Partial TP/SL, oldest first, from the index ``StopOrders.partial`` (checked at
    every price point: never a scan of every order ever placed); ids no longer untriggered drop out."""
    out = []
    for oid in list(ex.stops.partial):
        o = ex.orders.get(oid)
        if o is None or o.status != "Untriggered":
            del ex.stops.partial[oid]
        elif o.symbol == symbol:
            out.append(o)
    return out


def _new(ex: Books, symbol: str, close_side: Side, leg: Leg, qty: Decimal, parent_link: str = "",
         parent_id: str = "") -> Order:
    now = ex.clock()
    long = close_side is Side.SELL
    rises = (leg.kind == TP) == long  # triggerDirection (open-order.mdx): 1 rise, 2 fall
    order = Order(ex.new_id(), "", symbol, close_side, "Limit" if leg.limit else "Market", qty, leg.limit,
                  "GTC" if leg.limit else "IOC", True, True, status="Untriggered", stop_order_type=leg.kind,
                  trigger_price=leg.trigger, trigger_by=leg.trigger_by, trigger_direction=1 if rises else 2,
                  parent_link_id=parent_link, create_type=f"CreateBy{leg.kind}", tpsl_mode="Partial",
                  last_price_on_created=ex.last[symbol], created=now, updated=now, seq=ex.next_seq(),
                  parent_id=parent_id)
    ex.orders[order.order_id] = order
    ex.stops.partial[order.order_id] = None
    return order


def _bind(a: Order | None, b: Order | None) -> None:
    if a is not None and b is not None:
        a.pair_id, b.pair_id = b.order_id, a.order_id


def _legs(order: Order) -> list[Leg]:
    legs = []
    if order.take_profit:
        limit = order.tp_limit_price if order.tp_order_type == "Limit" else ZERO
        legs.append(Leg(TP, order.take_profit, order.tp_trigger_by or "LastPrice", limit))
    if order.stop_loss:
        limit = order.sl_limit_price if order.sl_order_type == "Limit" else ZERO
        legs.append(Leg(SL, order.stop_loss, order.sl_trigger_by or "LastPrice", limit))
    return legs


def attach(ex: Books, parent: Order, fill: Execution) -> None:
    """After a fill of ``parent`` (a Partial-mode entry with TP/SL): its TP/SL orders cover what it opened."""
    opened = fill.exec_qty - fill.closed_size
    if opened <= 0 or parent.stop_order_type:
        return
    mine = {o.stop_order_type: o for o in untriggered(ex, parent.symbol) if o.parent_id == parent.order_id}
    made: dict[str, Order] = {}
    for leg in _legs(parent):
        order = mine.get(leg.kind)
        if order is not None:
            order.qty, order.updated = order.qty + opened, ex.clock()
        else:
            made[leg.kind] = _new(ex, parent.symbol, parent.side.opposite, leg, opened, parent.link_id,
                                  parent.order_id)
    _bind(made.get(TP), made.get(SL))


def add(ex: Books, symbol: str, legs: list[Leg], size: Decimal) -> list[Order]:
    """trading-stop.mdx, tpslMode=Partial: add TP and/or SL orders of ``size`` to the open position."""
    pos, ins = ex.positions[symbol], ex.instrument(symbol)
    if not pos.size or pos.side is None:
        raise SimRejection(10001, "can not set tp/sl/ts for zero position")
    if size > pos.size:
        raise SimRejection(10001, f"tpSize/slSize {size} exceeds the position size {pos.size}")
    if size % ins.qty_step or size < ins.min_order_qty:
        raise SimRejection(10001, "Qty invalid")
    by = {leg.kind: leg for leg in legs}
    tp, sl = by.get(TP), by.get(SL)
    check_tpsl_vs_price(pos.side, tp.trigger if tp else ZERO, sl.trigger if sl else ZERO, ex.last[symbol],
                        "position", tp.trigger_by if tp else "LastPrice", sl.trigger_by if sl else "LastPrice",
                        ex.mark[symbol])
    for leg in legs:
        if sum(1 for o in untriggered(ex, symbol) if o.stop_order_type == leg.kind) >= MAX_PER_KIND:
            raise SimRejection(110061, "Not allowed to have more than 20 TP/SLs under Partial tpSlMode")
    made = [_new(ex, symbol, pos.side.opposite, leg, size) for leg in legs]
    if len(made) == 2:
        _bind(made[0], made[1])
    pos.updated = ex.clock()
    return made


def sync(ex: Books, symbol: str) -> None:
    """A closed or flipped position takes its untriggered Partial TP/SL with it (CancelByTpSlTsClear)."""
    pos = ex.positions[symbol]
    for o in untriggered(ex, symbol):
        if not pos.size or o.side == pos.side:
            deactivate(ex, o, "CancelByTpSlTsClear")


def deactivate(ex: Books, order: Order, cancel_type: str) -> None:
    order.status, order.cancel_type, order.updated = "Deactivated", cancel_type, ex.clock()


def cancel(ex: Books, order: Order) -> None:
    """cancel-order.mdx by orderId: an untriggered one is Deactivated, a triggered resting limit Cancelled; its
    partner stays, unbound."""
    partner = ex.orders.get(order.pair_id) if order.pair_id else None
    if partner is not None:
        partner.pair_id = order.pair_id = ""
    if order.status == "Untriggered":
        deactivate(ex, order, "CancelByUser")
    else:
        ex.finish(order, "Cancelled", cancel_type="CancelByUser")


def _reached(order: Order, price: Decimal) -> bool:
    return price >= order.trigger_price if order.trigger_direction == 1 else price <= order.trigger_price


def events(ex: Books, symbol: str, prev: Decimal,
           price: Decimal) -> list[tuple[Decimal, int, str, Decimal, object]]:
    """LastPrice triggers reached by the segment ``prev`` → ``price``, as ``Exchange._next_event`` entries
    (a stop-loss before a take-profit at the same distance, like the Full-mode ones)."""
    return [(abs(o.trigger_price - prev), 0 if o.stop_order_type == SL else 2, "partial", o.trigger_price, o)
            for o in untriggered(ex, symbol) if o.trigger_by == "LastPrice" and _reached(o, price)]


def mark_triggers(ex: Books, symbol: str) -> None:
    """MarkPrice/IndexPrice triggers (index = mark here) reached by the mark price; they execute from the last."""
    for o in untriggered(ex, symbol):
        if o.status == "Untriggered" and o.trigger_by != "LastPrice" and _reached(o, ex.mark[symbol]):
            trigger(ex, o, ex.last[symbol])


def trigger(ex: Books, order: Order, base: Decimal) -> None:
    """Untriggered → Triggered: its partner is Deactivated; a Market order fills at market from ``base``, a Limit
    one becomes an active limit order (taking at once only if its price is marketable)."""
    partner = ex.orders.get(order.pair_id) if order.pair_id else None
    if partner is not None and partner.status == "Untriggered":
        deactivate(ex, partner, OCO_CANCEL[order.stop_order_type])
    pos = ex.positions[order.symbol]
    qty = min(order.qty, pos.size) if pos.size and pos.side != order.side else ZERO
    if not qty:
        deactivate(ex, order, "CancelByTpSlTsClear")
        return
    order.status, order.qty, order.updated = "Triggered", qty, ex.clock()
    if order.order_type == "Market":
        tick = ex.instruments[order.symbol].tick_size
        ex.fill(order, qty, market_fill_price(order.side, qty, base, tick, ex.book), is_maker=False)
        return
    order.status = "New"
    if ex.crosses(order):
        ex.take(order)
