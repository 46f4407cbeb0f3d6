"""System conditional orders that mirror a position's Full-mode TP/SL/trailing stop (trading-stop.mdx), and the
check of TP/SL levels against the base price."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from tradebot.money import ZERO
from tradebot.side import Side

from .models import Order, Position, SimRejection, fmt

KINDS = ("TakeProfit", "StopLoss", "TrailingStop")
CREATE_TYPES = {"TakeProfit": "CreateByTakeProfit", "StopLoss": "CreateByStopLoss",
                "TrailingStop": "CreateByTrailingStop"}


def wanted(pos: Position) -> dict[str, tuple[Decimal, str, int]]:
    """(triggerPrice, triggerBy, triggerDirection) of each system order the position needs right now.

    triggerDirection (open-order.mdx): 1 = rise, 2 = fall. A TrailingStop's triggerPrice is its activation
    price until it activates (open-order.mdx: "If stopOrderType=TrailingStop, it is activate price"), then
    the current trailing trigger level.
    """
    if not pos.size:
        return {}
    long = pos.side is Side.BUY
    out: dict[str, tuple[Decimal, str, int]] = {}
    if pos.take_profit:
        out["TakeProfit"] = (pos.take_profit, pos.tp_trigger_by or "LastPrice", 1 if long else 2)
    if pos.stop_loss:
        out["StopLoss"] = (pos.stop_loss, pos.sl_trigger_by or "LastPrice", 2 if long else 1)
    if pos.trailing_stop:
        level = pos.trail_level
        out["TrailingStop"] = (level if level is not None else pos.active_price, "LastPrice", 2 if long else 1)
    return out


def check_tpsl_vs_price(side: Side, tp: Decimal, sl: Decimal, base: Decimal, what: str,
                        tp_by: str = "LastPrice", sl_by: str = "LastPrice", mark: Decimal | None = None) -> None:
    """TP above / SL below the base price for a long (mirrored for a short); the base is the last (or
    order) price, or the mark price for MarkPrice/IndexPrice triggers when ``mark`` is given."""
    long = side is Side.BUY
    tp_base = mark if mark is not None and tp_by != "LastPrice" else base
    sl_base = mark if mark is not None and sl_by != "LastPrice" else base
    if tp and (tp <= tp_base if long else tp >= tp_base):
        rel = "higher" if long else "lower"
        raise SimRejection(10001, f"TakeProfit:{fmt(tp)} set for {side} {what} should be {rel} than "
                                   f"base_price:{fmt(tp_base)}??{tp_by if mark is not None else 'LastPrice'}")
    if sl and (sl >= sl_base if long else sl <= sl_base):
        rel = "lower" if long else "higher"
        raise SimRejection(10001, f"StopLoss:{fmt(sl)} set for {side} {what} should be {rel} than "
                                   f"base_price:{fmt(sl_base)}??{sl_by if mark is not None else 'LastPrice'}")


class StopOrders:
    """Keeps one Untriggered system order per (symbol, kind) in step with the position.

    Created when the position gets a TP/SL/trailing stop (from order create or trading-stop), amended in
    place (same orderId) when the level, trigger type or position size changes, Deactivated with
    ``CancelByTpSlTsClear`` when the position is cleared and with ``CancelByUser`` when the stop is removed.
    """

    def __init__(self, orders: dict[str, Order], new_id: Callable[[], str], clock: Callable[[], int]) -> None:
        self.orders, self.new_id, self.clock = orders, new_id, clock
        self.ids: dict[tuple[str, str], str] = {}
        self.partial: dict[str, None] = {}  # untriggered Partial-mode TP/SL order ids, in order (proving.sim.partial)

    def rebuild(self) -> None:
        """Re-index open system orders (after a state restore)."""
        self.ids = {(o.symbol, o.stop_order_type): o.order_id for o in self.orders.values()
                    if o.is_open and o.stop_order_type in KINDS}
        self.partial = {o.order_id: None for o in self.orders.values()
                        if o.status == "Untriggered" and o.stop_order_type.startswith("Partial")}

    def get(self, symbol: str, kind: str) -> Order | None:
        oid = self.ids.get((symbol, kind))
        order = self.orders.get(oid) if oid else None
        if order is not None and order.is_open:
            return order
        self.ids.pop((symbol, kind), None)
        return None

    def deactivate(self, order: Order, cancel_type: str) -> None:
        order.status, order.cancel_type, order.updated = "Deactivated", cancel_type, self.clock()
        self.ids.pop((order.symbol, order.stop_order_type), None)

    def sync(self, pos: Position, last: Decimal, seq: int) -> None:
        want = wanted(pos)
        close_side = pos.side.opposite if pos.size and pos.side else None
        for kind in KINDS:
            order = self.get(pos.symbol, kind)
            spec = want.get(kind)
            if order is not None and (spec is None or order.side != close_side):
                cleared = not pos.size or order.side != close_side
                self.deactivate(order, "CancelByTpSlTsClear" if cleared else "CancelByUser")
                order = None
            if spec is None:
                continue
            level, by, direction = spec
            now = self.clock()
            if order is None:
                assert close_side is not None  # a wanted stop implies an open position
                order = Order(self.new_id(), "", pos.symbol, close_side, "Market", pos.size, ZERO, "IOC", True, True,
                              status="Untriggered", stop_order_type=kind, trigger_price=level, trigger_by=by,
                              trigger_direction=direction, parent_link_id=pos.tpsl_parent,
                              create_type=CREATE_TYPES[kind], tpsl_mode="Full", last_price_on_created=last,
                              created=now, updated=now, seq=seq)
                self.orders[order.order_id] = order
                self.ids[(pos.symbol, kind)] = order.order_id
            elif (order.qty, order.trigger_price, order.trigger_by) != (pos.size, level, by):
                order.qty, order.trigger_price, order.trigger_by, order.updated = pos.size, level, by, now
