"""Cross-margin side of the matching engine: maintenance margin, liqPrice, MarkPrice triggers, liquidation
(UNIFIED account, cross margin, one-way); plain functions taking the engine."""

from __future__ import annotations

from decimal import Decimal

from tradebot.money import ZERO
from tradebot.side import Side

from .books import Books
from .margin import MMR, breakeven_price, bust_price, liq_price
from .models import Order


def position_mm(ex: Books, exclude: str = "") -> Decimal:
    """Maintenance margin: size × mark × MMR over the positions (risk tier 1)."""
    return sum((p.size * ex.mark[s] * MMR for s, p in ex.positions.items() if p.size and s != exclude), ZERO)


def _others_upl(ex: Books, symbol: str) -> Decimal:
    return sum((p.upl(ex.mark[s]) for s, p in ex.positions.items() if p.size and s != symbol), ZERO)


def position_liq_price(ex: Books, symbol: str) -> Decimal | None:
    """Estimated cross-margin liquidation price of ``symbol``'s position (margin.liq_price)."""
    pos = ex.positions[symbol]
    if not pos.size or pos.side is None:
        return None
    cushion = ex.wallet + _others_upl(ex, symbol) - position_mm(ex, exclude=symbol)
    return liq_price(pos.side, pos.size, pos.avg_price, cushion, ex.instruments[symbol].tick_size)


def position_row(ex: Books, symbol: str) -> dict[str, object]:
    """The /v5/position/list row with markPrice, liqPrice and breakEvenPrice."""
    pos, ins = ex.positions[symbol], ex.instruments[symbol]
    liq = position_liq_price(ex, symbol)
    if liq is not None and not ins.min_price < liq < ins.max_price:
        liq = None  # position.mdx: "" when liqPrice <= minPrice or >= maxPrice
    be = (breakeven_price(pos.side, pos.size, pos.avg_price, pos.cur_realised, ex.fees.taker)
          if pos.size and pos.side else None)
    return pos.wire(ex.mark[symbol], liq, be, MMR)


# -- mark price: MarkPrice/IndexPrice triggers and liquidation ------------------------------------------
def mark_events(ex: Books, symbol: str) -> None:
    """After a price move: TP/SL with triggerBy MarkPrice/IndexPrice (index = mark here) fire when the mark
    reaches them and fill at market from the last price; then any position whose mark price has reached
    its liquidation price is liquidated."""
    pos, mark, last = ex.positions[symbol], ex.mark[symbol], ex.last[symbol]
    if pos.size:
        long = pos.side is Side.BUY
        sl, tp = pos.stop_loss, pos.take_profit
        if sl and pos.sl_trigger_by != "LastPrice" and (mark <= sl if long else mark >= sl):
            ex.trigger(symbol, "StopLoss", sl, last)
        elif tp and pos.tp_trigger_by != "LastPrice" and (mark >= tp if long else mark <= tp):
            ex.trigger(symbol, "TakeProfit", tp, last)
    for s, p in ex.positions.items():
        liq = position_liq_price(ex, s) if p.size else None
        if liq is not None and (ex.mark[s] <= liq if p.side is Side.BUY else ex.mark[s] >= liq):
            liquidate(ex, s)


def liquidate(ex: Books, symbol: str) -> None:
    """Takeover liquidation (enum.mdx): open active orders are cancelled (CancelAllBeforeLiq), then the
    liquidation engine closes the whole position at the bankruptcy price with an order created
    ``CreateByTakeOver_PassThrough``, an execution and a closed-pnl row of execType ``BustTrade``."""
    pos, ins = ex.positions[symbol], ex.instruments[symbol]
    assert pos.side is not None  # only an open position is liquidated
    for o in ex.open_orders():
        if not o.stop_order_type:
            ex.finish(o, "Cancelled", cancel_type="CancelAllBeforeLiq")
    cushion = ex.wallet + _others_upl(ex, symbol)
    bust = bust_price(pos.side, pos.size, pos.avg_price, cushion, ex.fees.taker, ins.tick_size)
    now = ex.clock()
    order = Order(ex.new_id(), "", symbol, pos.side.opposite, "Market", pos.size, bust, "IOC", True, True,
                  create_type="CreateByTakeOver_PassThrough", last_price_on_created=ex.last[symbol],
                  created=now, updated=now, seq=ex.next_seq())
    ex.orders[order.order_id] = order
    ex.fill(order, pos.size, bust, is_maker=False, exec_type="BustTrade")
