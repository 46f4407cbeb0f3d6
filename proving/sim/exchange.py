"""Pure Bybit-like linear matching engine: wallet, one-way positions, orders, fills, TP/SL/trailing (no I/O)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from decimal import Decimal

from tradebot.market_model.book import BookParams, market_fill_price, touch_price
from tradebot.market_model.instruments import Instrument
from tradebot.money import ZERO
from tradebot.rules.bybit_trail import trail_update
from tradebot.side import Side

from . import partial
from .ledger import book_fill
from .liquidation import mark_events
from .margin import push_mark
from .models import ClosedPnl, Execution, Fees, Order, OrderRequest, Position, SimRejection
from .resting import resting_fill_qty
from .tpsl import StopOrders, check_tpsl_vs_price

__all__ = ["Exchange", "SimRejection", "Fees", "OrderRequest"]

DEFAULT_BOOK = BookParams()
DEFAULT_FEES = Fees()


def _on_grid(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


class Exchange:
    """Matching engine state. ``clock`` returns the market time in ms used for every business timestamp."""

    def __init__(self, instruments: dict[str, Instrument], balance: Decimal, clock: Callable[[], int], *,
                 fees: Fees = DEFAULT_FEES, book: BookParams = DEFAULT_BOOK, seed: int = 0,
                 leverage: Decimal = Decimal(10)) -> None:
        self.instruments, self.clock, self.fees, self.book, self.seed = instruments, clock, fees, book, seed
        self.wallet = balance
        self.positions = {s: Position(s, leverage=leverage) for s in instruments}
        self.last: dict[str, Decimal] = {}
        self.mark: dict[str, Decimal] = {}  # mark price = index price (zero basis); see margin.push_mark
        self.mark_window: dict[str, list[Decimal]] = {s: [] for s in instruments}
        self.orders: dict[str, Order] = {}
        self.link_ids: dict[str, str] = {}
        self.executions: list[Execution] = []
        self.closed: list[ClosedPnl] = []
        self.counter = 0
        self.seq = 1000
        self.stops = StopOrders(self.orders, self.new_id, clock)
        self.visible_at: Callable[[], int] = lambda: 0  # wall ms from which a closed-pnl row booked now is listed

    # -- helpers -----------------------------------------------------------------------------------
    def new_id(self) -> str:
        self.counter += 1
        digest = hashlib.sha256(f"{self.seed}:{self.counter}".encode()).digest()[:16]
        return str(uuid.UUID(bytes=digest, version=4))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def instrument(self, symbol: str) -> Instrument:
        if symbol not in self.instruments or symbol not in self.last:
            raise SimRejection(10001, "params error: symbol invalid")
        return self.instruments[symbol]

    def upl(self) -> Decimal:
        """Unrealised PnL of all positions at their mark prices."""
        return sum((p.upl(self.mark[s]) for s, p in self.positions.items() if p.size), ZERO)

    def position_im(self) -> Decimal:
        return sum((p.size * self.mark[s] / p.leverage for s, p in self.positions.items() if p.size), ZERO)

    def order_im(self) -> Decimal:
        return sum(((o.qty - o.cum_qty) * o.price / self.positions[o.symbol].leverage
                    for o in self.orders.values() if o.is_open and not o.reduce_only), ZERO)

    def equity(self) -> Decimal:
        return self.wallet + self.upl()

    def available(self) -> Decimal:
        return self.equity() - self.position_im() - self.order_im()

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)]

    # -- order entry -------------------------------------------------------------------------------
    def place_order(self, req: OrderRequest) -> Order:
        """Validate and accept an order; market (and marketable limit) orders fill immediately."""
        ins = self.instrument(req.symbol)
        last = self.last[req.symbol]
        pos = self.positions[req.symbol]
        if req.link_id and req.link_id in self.link_ids:
            raise SimRejection(110072, "OrderLinkedID is duplicate")
        market = req.order_type == "Market"
        if req.qty == 0 and req.reduce_only and req.close_on_trigger and pos.size and pos.side != req.side:
            req.qty = pos.size  # Bybit: qty "0" + reduceOnly + closeOnTrigger closes the whole position
        max_qty = ins.max_mkt_order_qty if market else ins.max_order_qty
        if not _on_grid(req.qty, ins.qty_step):
            raise SimRejection(10001, "Qty invalid")
        if req.qty < ins.min_order_qty:
            raise SimRejection(10001, "The number of contracts exceeds minimum limit allowed")
        if req.qty > max_qty:
            raise SimRejection(10001, "The number of contracts exceeds maximum limit allowed")
        if not market:
            if req.price is None or req.price <= 0:
                raise SimRejection(10001, "Missing some parameters that must be filled in, price")
            if not _on_grid(req.price, ins.tick_size):
                raise SimRejection(10001, "The order price is not a multiple of tickSize")
            if not ins.min_price <= req.price <= ins.max_price:
                raise SimRejection(110003, "Order price exceeds the allowable range")
        ref = last if market else req.price
        assert ref is not None
        if not req.reduce_only and req.qty * ref < ins.min_notional:
            raise SimRejection(110094, f"Order does not meet minimum order value {ins.min_notional}USDT")
        if req.reduce_only:
            if not pos.size:
                raise SimRejection(110017, "current position is zero, cannot fix reduce-only order qty")
            if pos.side == req.side:
                raise SimRejection(110017, "reduce-only order has same side with current position")
            if req.take_profit or req.stop_loss:
                raise SimRejection(10001, "TP/SL cannot be set on a reduce-only order")
        check_tpsl_vs_price(req.side, req.take_profit, req.stop_loss, ref, "order")
        opening = req.qty if pos.side in (None, req.side) else max(ZERO, req.qty - pos.size)
        if opening and not req.reduce_only:
            need = opening * ref / pos.leverage + opening * ref * self.fees.taker
            if need > self.available():
                raise SimRejection(110007, "ab not enough for new order")
        now = self.clock()
        price = req.price if req.price is not None and not market else self._protect(req.side, last, ins)
        order = Order(self.new_id(), req.link_id, req.symbol, req.side, req.order_type, req.qty, price,
                      "IOC" if market else req.tif, req.reduce_only, req.close_on_trigger,
                      take_profit=req.take_profit, stop_loss=req.stop_loss,
                      tp_trigger_by=req.tp_trigger_by if req.take_profit else "",
                      sl_trigger_by=req.sl_trigger_by if req.stop_loss else "",
                      tpsl_mode=req.tpsl_mode or ("Full" if req.take_profit or req.stop_loss else ""),
                      tp_order_type=req.tp_order_type, sl_order_type=req.sl_order_type,
                      tp_limit_price=req.tp_limit_price, sl_limit_price=req.sl_limit_price,
                      last_price_on_created=last, created=now, updated=now, seq=self.next_seq())
        self.orders[order.order_id] = order
        if req.link_id:
            self.link_ids[req.link_id] = order.order_id
        if self.crosses(order):
            self.take(order)
        elif req.tif in ("IOC", "FOK"):
            self.finish(order, "Cancelled", "EC_NoImmediateQtyToFill")
        return order

    def crosses(self, order: Order) -> bool:
        """Marketable: a market order, or a limit at/through the best opposite price (ask for Buy, bid for Sell)."""
        if order.order_type == "Market":
            return True
        touch = touch_price(order.side, self.last[order.symbol], self.instruments[order.symbol].tick_size, self.book)
        return order.price >= touch if order.side is Side.BUY else order.price <= touch

    def take(self, order: Order) -> None:
        """Execute a marketable order as taker by walking the book (a limit never fills beyond its price);
        PostOnly is cancelled instead (create-order.mdx). What cannot fill is cancelled."""
        if order.tif == "PostOnly":
            self.finish(order, "Cancelled", "EC_PostOnlyWillTakeLiquidity")
            return
        last, tick = self.last[order.symbol], self.instruments[order.symbol].tick_size
        qty = self._reduce_cap(order)
        fill = market_fill_price(order.side, qty, last, tick, self.book)
        if order.order_type == "Limit" and (fill > order.price if order.side is Side.BUY else fill < order.price):
            fill = order.price
        if qty > 0:
            self.fill(order, qty, fill, is_maker=False)
        if order.status != "Filled":  # enum.mdx: derivatives' Cancelled "may have an executed qty"
            self.finish(order, "Cancelled")

    def amend_order(self, order: Order, qty: Decimal | None, price: Decimal | None) -> None:
        """Amend qty/price of an open limit order; if the new price crosses the book it fills at once as a
        taker (amend-order.mdx, create-order.mdx: a limit at or through the best opposite price executes)."""
        order.qty, order.price = qty or order.qty, price or order.price
        order.updated = self.clock()
        if order.cum_qty == order.qty:  # amended down to what already filled: nothing left to fill
            order.status = "Filled"
        if order.order_type == "Limit" and order.is_open and self.crosses(order):
            self.take(order)

    @staticmethod
    def _protect(side: Side, last: Decimal, ins: Instrument) -> Decimal:
        band = last * (Decimal("1.03") if side is Side.BUY else Decimal("0.97"))
        return (band / ins.tick_size).to_integral_value() * ins.tick_size

    def _reduce_cap(self, order: Order) -> Decimal:
        leaves = order.qty - order.cum_qty
        if not order.reduce_only:
            return leaves
        pos = self.positions[order.symbol]
        return min(leaves, pos.size) if pos.size and pos.side != order.side else ZERO

    def finish(self, order: Order, status: str, reason: str = "EC_NoError", cancel_type: str = "") -> None:
        order.status, order.reject_reason, order.updated = status, reason, self.clock()
        if cancel_type:
            order.cancel_type = cancel_type

    def cancel_order(self, symbol: str, order_id: str = "", link_id: str = "") -> Order:
        self.instrument(symbol)
        oid = order_id or self.link_ids.get(link_id, "")
        order = self.orders.get(oid)
        if order is None or order.symbol != symbol or not order.is_open:
            raise SimRejection(110001, "Order does not exist")
        if order.stop_order_type in partial.KINDS:
            partial.cancel(self, order)
            return order
        if order.stop_order_type:  # a position TP/SL/trailing order: cancelling it removes that stop
            pos = self.positions[symbol]
            if order.stop_order_type == "TakeProfit":
                pos.take_profit = ZERO
            elif order.stop_order_type == "StopLoss":
                pos.stop_loss = ZERO
            else:
                pos.trailing_stop = pos.active_price = ZERO
                pos.trail_active = False
            pos.updated = self.clock()
            self.stops.deactivate(order, "CancelByUser")
            return order
        self.finish(order, "Cancelled", cancel_type="CancelByUser")
        return order

    def cancel_all(self, symbols: list[str], order_filter: str = "", stop_order_type: str = "") -> list[Order]:
        """cancel-all.mdx (linear): ``Order``/``OpenOrder`` = active orders, ``StopOrder`` = conditional
        orders (incl. TP/SL/trailing; with stopOrderType=Stop only plain conditional orders, which the
        simulator has none of), none = every kind. At most 500 orders."""
        out: list[Order] = []
        for o in list(self.open_orders()):
            if o.symbol not in symbols or len(out) >= 500:
                continue
            conditional = bool(o.stop_order_type)
            if order_filter in ("Order", "OpenOrder") and conditional:
                continue
            if order_filter == "StopOrder" and (not conditional or stop_order_type == "Stop"):
                continue
            out.append(self.cancel_order(o.symbol, o.order_id))
        return out

    def find_order(self, order_id: str = "", link_id: str = "") -> Order | None:
        return self.orders.get(order_id or self.link_ids.get(link_id, ""))

    # -- positions ---------------------------------------------------------------------------------
    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        ins = self.instrument(symbol)
        if not Decimal(1) <= leverage <= ins.max_leverage:
            raise SimRejection(10001, f"leverage invalid, must be in [1, {ins.max_leverage}]")
        pos = self.positions[symbol]
        if pos.leverage == leverage:
            raise SimRejection(110043, "leverage not modified")
        pos.leverage, pos.updated = leverage, self.clock()

    def set_trading_stop(self, symbol: str, tp: Decimal | None, sl: Decimal | None, trailing: Decimal | None,
                         active: Decimal | None, tp_by: str | None = None, sl_by: str | None = None) -> None:
        """Full-mode TP/SL/trailing on the whole position; ``0`` cancels; unchanged → 34040."""
        ins = self.instrument(symbol)
        pos = self.positions[symbol]
        if not pos.size or pos.side is None:
            raise SimRejection(10001, "can not set tp/sl/ts for zero position")
        last = self.last[symbol]
        changed = False
        for v in (tp, sl, active):
            if v and not _on_grid(v, ins.tick_size):
                raise SimRejection(10001, "The price is not a multiple of tickSize")
        check_tpsl_vs_price(pos.side, tp or ZERO, sl or ZERO, last, "position",
                            tp_by or pos.tp_trigger_by, sl_by or pos.sl_trigger_by, self.mark[symbol])
        if tp is not None and tp != pos.take_profit:
            pos.take_profit, changed = tp, True
        if sl is not None and sl != pos.stop_loss:
            pos.stop_loss, changed = sl, True
        if tp_by and tp_by != pos.tp_trigger_by:
            pos.tp_trigger_by, changed = tp_by, True
        if sl_by and sl_by != pos.sl_trigger_by:
            pos.sl_trigger_by, changed = sl_by, True
        if trailing is not None and (trailing != pos.trailing_stop or (active or ZERO) != pos.active_price):
            pos.trailing_stop, pos.active_price, changed = trailing, active or ZERO, True
            pos.trail_active = bool(trailing) and not active
            pos.trail_best = last
            if trailing and active and (last >= active if pos.side is Side.BUY else last <= active):
                pos.trail_active = True
        if not changed:
            raise SimRejection(34040, "not modified")
        pos.updated = self.clock()
        self.stops.sync(pos, last, self.seq)

    # -- fills -------------------------------------------------------------------------------------
    def fill(self, order: Order, qty: Decimal, price: Decimal, is_maker: bool, exec_type: str = "Trade") -> None:
        """Book the fill (ledger.book_fill); a Partial-mode entry's TP/SL orders cover what it opened; reduce-only
        orders left with nothing to reduce are cancelled; the position's system TP/SL/trailing orders follow it."""
        pos = book_fill(self, order, qty, price, is_maker, exec_type)
        if order.tpsl_mode == "Partial":
            partial.attach(self, order, self.executions[-1])
        for o in self.open_orders(order.symbol):  # nothing left to reduce (enum.mdx cancelType CancelByReduceOnly)
            if o.reduce_only and o.status != "Untriggered" and (not pos.size or o.side == pos.side):
                self.finish(o, "Cancelled", cancel_type="CancelByReduceOnly")
        partial.sync(self, order.symbol)
        self.stops.sync(pos, self.last[order.symbol], self.seq)

    # -- price path --------------------------------------------------------------------------------
    def on_price(self, symbol: str, price: Decimal, continuous: bool = True) -> None:
        """Move ``symbol``'s last price to ``price`` along one monotone segment, firing stops and limits.

        Events are applied in the order the segment crosses their levels. A continuous segment fills a
        triggered stop at its trigger price; a gap (``continuous=False``) fills it at the gapped price.
        """
        prev = self.last.get(symbol)
        if prev is None:
            self.last[symbol] = price
            self.mark[symbol] = push_mark(self.mark_window[symbol], price, self.instruments[symbol].tick_size)
            return
        seen: set[str] = set()  # resting limits already served by this segment (a touch fills once)
        for _ in range(1000):
            event = self._next_event(symbol, prev, price, seen)
            if event is None:
                break
            kind, level, target = event
            base = level if continuous and min(prev, price) <= level <= max(prev, price) else price
            self.last[symbol] = base
            if kind == "limit":
                assert isinstance(target, Order)
                seen.add(target.order_id)
                qty = min(self._reduce_cap(target), self._resting_qty(target, prev, price))
                if qty > 0:
                    self.fill(target, qty, target.price, is_maker=True)
                elif target.is_open:
                    self.finish(target, "Cancelled", cancel_type="CancelByReduceOnly")
            elif kind == "partial":
                assert isinstance(target, Order)
                partial.trigger(self, target, base)
            else:
                self.trigger(symbol, kind, level, base)
        self.last[symbol] = price
        pos = self.positions[symbol]
        if pos.size and pos.trailing_stop and pos.side is not None:  # the rule, in long space
            s = pos.side.sign
            pos.trail_active, best = trail_update(pos.trail_active, s * pos.trail_best, s * pos.active_price, s * price)
            pos.trail_best = s * best
        self.mark[symbol] = push_mark(self.mark_window[symbol], price, self.instruments[symbol].tick_size)
        mark_events(self, symbol)
        partial.mark_triggers(self, symbol)
        if pos.size:
            self.stops.sync(pos, price, self.seq)

    def _resting_qty(self, order: Order, prev: Decimal, price: Decimal) -> Decimal:
        ins = self.instruments[order.symbol]
        return resting_fill_qty(order.side, order.price, order.qty - order.cum_qty, prev, price, ins.tick_size,
                                ins.qty_step, self.book)

    def _next_event(self, symbol: str, prev: Decimal, price: Decimal,
                    seen: set[str]) -> tuple[str, Decimal, object] | None:
        events: list[tuple[Decimal, int, str, Decimal, object]] = []
        pos = self.positions[symbol]
        if pos.size:
            long = pos.side is Side.BUY
            down = (price <= pos.stop_loss) if long else (price >= pos.stop_loss)
            if pos.stop_loss and down and pos.sl_trigger_by == "LastPrice":
                events.append((abs(pos.stop_loss - prev), 0, "StopLoss", pos.stop_loss, None))
            lvl = pos.trail_level
            if lvl is not None and (price <= lvl if long else price >= lvl):
                events.append((abs(lvl - prev), 1, "TrailingStop", lvl, None))
            up = (price >= pos.take_profit) if long else (price <= pos.take_profit)
            if pos.take_profit and up and pos.tp_trigger_by == "LastPrice":
                events.append((abs(pos.take_profit - prev), 2, "TakeProfit", pos.take_profit, None))
        for o in self.open_orders(symbol):  # resting limits (proving.sim.resting: through fills, a touch may part-fill)
            if (o.order_type == "Limit" and o.status != "Untriggered" and o.order_id not in seen
                    and self._resting_qty(o, prev, price) > 0):
                events.append((abs(o.price - prev), 3 + o.seq, "limit", o.price, o))
        events += partial.events(self, symbol, prev, price)
        if not events:
            return None
        _, _, kind, level, target = min(events, key=lambda e: (e[0], e[1]))
        return kind, level, target

    def trigger(self, symbol: str, kind: str, level: Decimal, base: Decimal) -> None:
        """The position's system order of ``kind`` triggers (Untriggered → Triggered) and fills at market."""
        pos = self.positions[symbol]
        ins = self.instruments[symbol]
        self.stops.sync(pos, base, self.seq)
        order = self.stops.get(symbol, kind)
        assert order is not None
        order.status, order.qty, order.trigger_price, order.updated = "Triggered", pos.size, level, self.clock()
        self.stops.ids.pop((symbol, kind), None)
        fill = market_fill_price(order.side, pos.size, base, ins.tick_size, self.book)
        self.fill(order, pos.size, fill, is_maker=False)
