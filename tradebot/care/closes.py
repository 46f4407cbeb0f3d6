"""A trade's close as the exchange recorded it: every closed-pnl row of the trade (partial reductions by hand,
partial liquidation and ADL included), whether they cover all it ever opened, and the reason named by the
executions of the order that closed the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from tradebot.bybit.account_models import ClosedPnl, Execution
from tradebot.bybit.client import BybitClient
from tradebot.care.trader import CLOSE_PREFIX, close_link_reason
from tradebot.money import ZERO
from tradebot.states import CloseReason, ExitReason, StopMove
from tradebot.timeutil import datetime_to_ms


class TradeView(Protocol):
    """What finding a trade's close needs from the journal's row."""

    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def qty(self) -> Decimal: ...
    @property
    def entry_qty(self) -> Decimal | None: ...
    @property
    def entry_order_link_id(self) -> str | None: ...
    @property
    def stop_moves(self) -> list[StopMove]: ...


def stop_exit_reason(moves: Sequence[StopMove]) -> ExitReason:
    """A stop-loss order's fill named by what the stop was at that moment: the last move's reason."""
    return ExitReason.of_stop(moves[-1].reason if moves else None)


def close_reason(stop_order_types: set[str], exec_types: set[str], link_ids: set[str],
                 trade: TradeView) -> ExitReason:
    """Why a position closed, from the closing executions (never guessed from the price)."""
    if "BustTrade" in exec_types:
        return ExitReason.LIQUIDATION
    if "AdlTrade" in exec_types:
        return ExitReason.ADL
    if "TrailingStop" in stop_order_types:
        return ExitReason.TRAILING_STOP
    if "TakeProfit" in stop_order_types or "PartialTakeProfit" in stop_order_types:
        return ExitReason.TAKE_PROFIT
    if "StopLoss" in stop_order_types or "PartialStopLoss" in stop_order_types:
        return stop_exit_reason(trade.stop_moves)
    bot = {close_link_reason(link) for link in link_ids if link.startswith(CLOSE_PREFIX)}
    if CloseReason.UNPROTECTED in bot:
        return ExitReason.UNPROTECTED
    if bot:
        return ExitReason.MANUAL
    return ExitReason.MANUAL if link_ids or stop_order_types or exec_types else ExitReason.UNKNOWN


def closed_size(row: ClosedPnl) -> Decimal:
    return row.closed_size or row.qty


@dataclass(frozen=True)
class TradeClose:
    """The closed-pnl rows of one trade (oldest first) against the qty it opened (entry + adds)."""

    rows: tuple[ClosedPnl, ...]
    opened: Decimal
    ended_ms: int | None = None  # the fill that ended the trade's position (flat or flipped), per the executions
    execs: tuple[Execution, ...] = ()  # every execution since the trade started (fills, funding), newest first

    @property
    def qty(self) -> Decimal:
        return sum((closed_size(r) for r in self.rows), ZERO)

    @property
    def covered(self) -> bool:
        """Every qty the trade opened is closed on the exchange's record: the close is complete."""
        return bool(self.rows) and self.qty >= self.opened

    @property
    def exit_price(self) -> Decimal:
        return sum((closed_size(r) * r.avg_exit_price for r in self.rows), ZERO) / self.qty

    @property
    def pnl(self) -> Decimal:
        """Net, as the exchange has it: Σ closedPnl (each row nets its opening and closing fee and funding)."""
        return sum((r.closed_pnl for r in self.rows), ZERO)

    @property
    def open_fee(self) -> Decimal:
        return sum((r.open_fee for r in self.rows), ZERO)

    @property
    def close_fee(self) -> Decimal:
        return sum((r.close_fee for r in self.rows), ZERO)

    @property
    def last(self) -> ClosedPnl:
        return self.rows[-1]

    @property
    def final(self) -> tuple[ClosedPnl, ...]:
        """The rows of the order that closed the rest (the last one): they name the close."""
        return tuple(r for r in self.rows if r.order_id == self.last.order_id)


def trade_close(rows: Sequence[ClosedPnl], adds: Sequence[Decimal], start_qty: Decimal,
                ended: tuple[int, str] | None = None, execs: Sequence[Execution] = ()) -> TradeClose:
    """The trade's close from its closed-pnl rows (newest first, as Bybit lists them: rows of one millisecond keep
    that order) and the qty added after it opened. ``ended``: (time, order id) of the fill that ended its position;
    rows after it belong to a later position of the same side (opened by hand after a flip or a close)."""
    ordered = sorted(reversed(rows), key=lambda r: r.created_ms)
    if ended is not None:
        ordered = [r for r in ordered if r.created_ms <= ended[0] or r.order_id == ended[1]]
    return TradeClose(tuple(ordered), start_qty + sum(adds, ZERO), ended[0] if ended else None, tuple(execs))


def lifetime(execs: Sequence[Execution], side: str, start_qty: Decimal, entry_link: str | None, since_ms: int,
             qty_known: bool) -> tuple[list[Decimal], tuple[int, str] | None]:
    """Walk the trade's position through its Trade executions (oldest first, from ``since_ms``): (the adds, the
    fill that ended it). A fill on the trade's side that closed something, or one the other way that opened
    something, is a flip (one-way mode: the trade's position is over); with ``qty_known`` (what it opened is on
    record) a position reduced to zero is over too. What fills after its end is a later position's, never an add."""
    size, adds = start_qty, list[Decimal]()
    for e in sorted(reversed(execs), key=lambda x: x.exec_time_ms):
        if e.exec_time_ms < since_ms or (entry_link and e.order_link_id == entry_link):
            continue
        if e.side == side:
            if e.closed_size > 0:  # it closed a position the other way: ours had ended (a fill we missed)
                return adds, (e.exec_time_ms, e.order_id)
            adds.append(e.exec_qty)
            size += e.exec_qty
            continue
        size -= e.closed_size
        if e.exec_qty > e.closed_size or (qty_known and size <= 0):
            return adds, (e.exec_time_ms, e.order_id)
    return adds, None


class CloseFinder:
    """Reads a trade's close from the exchange: closed-pnl rows and opening executions since it started."""

    def __init__(self, client: BybitClient) -> None:
        self.client = client

    async def find(self, trade: TradeView, since_ms: int, end_ms: int) -> TradeClose:
        """Rows and adds in ``[since_ms, end_ms]``, asked 7 days per request (position/close-pnl.mdx,
        order/execution.mdx). An add is a Trade execution on the trade's side while its position lasts (its entry
        order's fills excepted); the position ends at a flip or (what it opened known) at zero (:func:`lifetime`):
        a flip back by hand opens a new position of the same side, whose fills and rows are not this trade's."""
        rows = [r for r in await self.client.closed_pnl(trade.symbol, start_ms=since_ms, end_ms=end_ms,
                                                       max_items=5000)
                if r.created_ms >= since_ms and r.position_side == trade.side]
        execs = await self.client.executions(trade.symbol, start_ms=since_ms, end_ms=end_ms, max_items=5000)
        fills = [e for e in execs if e.exec_type == "Trade"]  # one request for the fills, the reason and funding
        start = trade.entry_qty if trade.entry_qty is not None else trade.qty
        adds, ended = lifetime(fills, trade.side, start, trade.entry_order_link_id, since_ms,
                               qty_known=trade.entry_qty is not None)
        return trade_close(rows, adds, start, ended, execs)

    async def reason(self, close: TradeClose, trade: TradeView) -> ExitReason:
        """Named by the executions of the order that closed the rest (a stop taking what a hand reduction left is
        ``stop_loss``, not ``manual``)."""
        stop_types: set[str] = set()
        exec_types: set[str] = {r.exec_type for r in close.final if r.exec_type}
        links: set[str] = set()
        for r in close.final:
            found = [e for e in close.execs if e.order_id == r.order_id]  # read with the rows (one request)
            if not found:
                found = await self.client.executions(trade.symbol, order_id=r.order_id, end_ms=r.created_ms + 60_000)
            for e in found:
                if e.stop_order_type:
                    stop_types.add(e.stop_order_type)
                exec_types.add(e.exec_type)
                if e.order_link_id:
                    links.add(e.order_link_id)
        return close_reason(stop_types, exec_types, links, trade)


def since_ms(entry_time: datetime, adopted_at: datetime | None) -> int:
    """From when the exchange's records are the trade's: its entry fill, or just after the position's last change
    before the bot adopted it (a hand reduction before that is not the trade's)."""
    return datetime_to_ms(adopted_at if adopted_at is not None else entry_time)
