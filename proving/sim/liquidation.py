"""Cross-margin side of the matching engine: maintenance margin, liqPrice, MarkPrice triggers, liquidation."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from tradebot.money import ZERO
from tradebot.side import Side

from .margin import MMR, breakeven_price, bust_price, liq_price
from .models import Order

if TYPE_CHECKING:
    from collections.abc import Callable

    from .instruments import Instrument
    from .models import Fees, Position


class MarginMixin:
    """Mixed into :class:`~proving.sim.exchange.Exchange` (UNIFIED account, cross margin, one-way)."""

    if TYPE_CHECKING:  # provided by Exchange
        positions: dict[str, Position]
        instruments: dict[str, Instrument]
        orders: dict[str, Order]
        last: dict[str, Decimal]
        mark: dict[str, Decimal]
        wallet: Decimal
        fees: Fees
        clock: Callable[[], int]

        def new_id(self) -> str: ...
        def next_seq(self) -> int: ...
        def open_orders(self, symbol: str | None = None) -> list[Order]: ...
        def _finish(self, order: Order, status: str, reason: str = ..., cancel_type: str = ...) -> None: ...
        def _trigger(self, symbol: str, kind: str, level: Decimal, base: Decimal) -> None: ...
        def _fill(self, order: Order, qty: Decimal, price: Decimal, is_maker: bool, exec_type: str = ...) -> None: ...

    def position_mm(self, exclude: str = "") -> Decimal:
        """Maintenance margin: size × mark × MMR over the positions (risk tier 1)."""
        return sum((p.size * self.mark[s] * MMR for s, p in self.positions.items() if p.size and s != exclude),
                   ZERO)

    def _others_upl(self, symbol: str) -> Decimal:
        return sum((p.upl(self.mark[s]) for s, p in self.positions.items() if p.size and s != symbol), ZERO)

    def liq_price(self, symbol: str) -> Decimal | None:
        """Estimated cross-margin liquidation price of ``symbol``'s position (margin.liq_price)."""
        pos = self.positions[symbol]
        if not pos.size or pos.side is None:
            return None
        cushion = self.wallet + self._others_upl(symbol) - self.position_mm(exclude=symbol)
        return liq_price(pos.side, pos.size, pos.avg_price, cushion, self.instruments[symbol].tick_size)

    def position_row(self, symbol: str) -> dict[str, object]:
        """The /v5/position/list row with markPrice, liqPrice and breakEvenPrice."""
        pos, ins = self.positions[symbol], self.instruments[symbol]
        liq = self.liq_price(symbol)
        if liq is not None and not ins.min_price < liq < ins.max_price:
            liq = None  # position.mdx: "" when liqPrice <= minPrice or >= maxPrice
        be = (breakeven_price(pos.side, pos.size, pos.avg_price, pos.cur_realised, self.fees.taker)
              if pos.size and pos.side else None)
        return pos.wire(self.mark[symbol], liq, be, MMR)

    # -- mark price: MarkPrice/IndexPrice triggers and liquidation --------------------------------------
    def _mark_events(self, symbol: str) -> None:
        """After a price move: TP/SL with triggerBy MarkPrice/IndexPrice (index = mark here) fire when the mark
        reaches them and fill at market from the last price; then any position whose mark price has reached
        its liquidation price is liquidated."""
        pos, mark, last = self.positions[symbol], self.mark[symbol], self.last[symbol]
        if pos.size:
            long = pos.side is Side.BUY
            sl, tp = pos.stop_loss, pos.take_profit
            if sl and pos.sl_trigger_by != "LastPrice" and (mark <= sl if long else mark >= sl):
                self._trigger(symbol, "StopLoss", sl, last)
            elif tp and pos.tp_trigger_by != "LastPrice" and (mark >= tp if long else mark <= tp):
                self._trigger(symbol, "TakeProfit", tp, last)
        for s, p in self.positions.items():
            liq = self.liq_price(s) if p.size else None
            if liq is not None and (self.mark[s] <= liq if p.side is Side.BUY else self.mark[s] >= liq):
                self.liquidate(s)

    def liquidate(self, symbol: str) -> None:
        """Takeover liquidation (enum.mdx): open active orders are cancelled (CancelAllBeforeLiq), then the
        liquidation engine closes the whole position at the bankruptcy price with an order created
        ``CreateByTakeOver_PassThrough``, an execution and a closed-pnl row of execType ``BustTrade``."""
        pos, ins = self.positions[symbol], self.instruments[symbol]
        assert pos.side is not None  # only an open position is liquidated
        for o in self.open_orders():
            if not o.stop_order_type:
                self._finish(o, "Cancelled", cancel_type="CancelAllBeforeLiq")
        cushion = self.wallet + self._others_upl(symbol)
        bust = bust_price(pos.side, pos.size, pos.avg_price, cushion, self.fees.taker, ins.tick_size)
        now = self.clock()
        order = Order(self.new_id(), "", symbol, pos.side.opposite, "Market", pos.size, bust, "IOC", True, True,
                      create_type="CreateByTakeOver_PassThrough", last_price_on_created=self.last[symbol],
                      created=now, updated=now, seq=self.next_seq())
        self.orders[order.order_id] = order
        self._fill(order, pos.size, bust, is_maker=False, exec_type="BustTrade")
