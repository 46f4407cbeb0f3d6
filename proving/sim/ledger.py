"""The matching engine's books: a fill or a funding charge booked into the position, the wallet, the order,
the executions and the closed PnL (fees, realised PnL, Bybit's closed-PnL split of opening fee and funding)."""

from __future__ import annotations

from decimal import Decimal

from tradebot.money import ZERO

from .books import Books
from .models import ClosedPnl, Execution, Order, Position


def book_fill(ex: Books, order: Order, qty: Decimal, price: Decimal, is_maker: bool,
              exec_type: str = "Trade") -> Position:
    """Book ``qty`` of ``order`` filled at ``price``: close against the position first (a closed-PnL row), open
    the rest, charge the fee, advance the order and append the execution. Returns the position."""
    pos = ex.positions[order.symbol]
    now = ex.clock()
    rate = ex.fees.maker if is_maker else ex.fees.taker
    fee = qty * price * rate
    closed = ZERO
    pnl = ZERO
    if pos.size and pos.side is not None and pos.side != order.side:
        closed = min(qty, pos.size)
        pnl = (price - pos.avg_price) * closed * pos.side.sign
        close_fee = fee if closed == qty else fee * closed / qty
        open_part = pos.open_fee if closed == pos.size else pos.open_fee * closed / pos.size
        funding_part = pos.funding if closed == pos.size else pos.funding * closed / pos.size
        pos.open_fee -= open_part
        pos.funding -= funding_part
        ex.closed.append(ClosedPnl(
            order.symbol, order.order_id, order.side, order.qty, order.price, order.order_type, closed,
            pos.avg_price, price, pnl - open_part - close_fee - funding_part, open_part, close_fee,
            pos.leverage, now, now))
        pos.size -= closed
        ex.wallet += pnl
        pos.cur_realised += pnl
        pos.cum_realised += pnl
        ex.closed[-1].exec_type = exec_type  # Trade, or BustTrade for a takeover liquidation
        ex.closed[-1].visible_at = ex.visible_at()
        if not pos.size:
            _flatten(pos)
    opening = qty - closed
    if opening:
        if not pos.size:
            pos.side, pos.avg_price, pos.open_time, pos.cur_realised = order.side, price, now, ZERO
            pos.created = pos.created or now
            pos.size = opening
        else:
            pos.avg_price = (pos.avg_price * pos.size + price * opening) / (pos.size + opening)
            pos.size += opening
        pos.open_fee += fee - (fee * closed / qty if closed else ZERO)
        if order.tpsl_mode != "Partial":  # Partial TP/SL are orders of their own (proving.sim.partial)
            _attach_full_tpsl(pos, order)
    ex.wallet -= fee
    pos.cur_realised -= fee
    pos.cum_realised -= fee
    pos.updated, pos.seq = now, ex.next_seq()
    order.cum_value += qty * price
    order.cum_qty += qty
    order.cum_fee += fee
    order.avg_price = order.cum_value / order.cum_qty
    order.status = "Filled" if order.cum_qty == order.qty else "PartiallyFilled"
    order.updated = now
    ex.executions.append(Execution(
        ex.new_id(), order.order_id, order.link_id, order.symbol, order.side, order.order_type, order.price,
        order.qty, order.qty - order.cum_qty, exec_type, price, qty, fee, rate, is_maker, closed, pnl, now,
        ex.mark[order.symbol], pos.seq, order.stop_order_type, order.create_type))
    return pos


def _attach_full_tpsl(pos: Position, order: Order) -> None:
    """An opening fill's Full-mode TP/SL become the position's (trading-stop.mdx: the whole position)."""
    if order.take_profit:
        pos.take_profit, pos.tp_trigger_by = order.take_profit, order.tp_trigger_by or "LastPrice"
    if order.stop_loss:
        pos.stop_loss, pos.sl_trigger_by = order.stop_loss, order.sl_trigger_by or "LastPrice"
    if order.take_profit or order.stop_loss:
        pos.tpsl_parent = order.link_id


def _flatten(pos: Position) -> None:
    pos.side, pos.avg_price, pos.open_time, pos.open_fee, pos.funding = None, ZERO, 0, ZERO, ZERO
    pos.take_profit = pos.stop_loss = pos.trailing_stop = pos.active_price = pos.trail_best = ZERO
    pos.trail_active, pos.tpsl_parent = False, ""


def settle_funding(ex: Books, symbol: str, rate: Decimal, at: int | None = None) -> None:
    """Charge (fee > 0) or pay (fee < 0) funding on an open position: size × mark price × rate, as an execution
    with execType Funding at ``at`` (market ms, default now); the amount also goes into the closedPnl of the
    close that follows, as Bybit's Closed P&L includes the funding paid while holding."""
    pos = ex.positions[symbol]
    if not pos.size or pos.side is None or not rate:
        return
    mark = ex.mark.get(symbol, ex.last[symbol])
    fee = pos.size * mark * rate * pos.side.sign
    ex.wallet -= fee
    pos.cur_realised -= fee
    pos.cum_realised -= fee
    pos.funding += fee
    pos.seq = ex.next_seq()
    ex.executions.append(Execution(
        ex.new_id(), "", "", symbol, pos.side, "UNKNOWN", ZERO, pos.size, ZERO, "Funding", mark, pos.size,
        fee, rate, False, ZERO, ZERO, ex.clock() if at is None else at, mark, pos.seq, "", ""))
