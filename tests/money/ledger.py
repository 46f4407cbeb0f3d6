"""The exchange's own account of what happened, read from the simulator's books (never from the bot).

A *lifetime* is one position from the fill that opened it to the fill that brought it back to zero (a flip ends
one and opens the next in the same fill). Each closing fill has exactly one closed-PnL row (the simulator books
them together, in the same order), so a lifetime's closed PnL is the sum of its rows: what the journal must
show for it, to the cent, once every row is visible to the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from proving.sim import Simulator
from proving.sim.models import ClosedPnl, Execution, Order
from tradebot.money import ZERO
from tradebot.side import Side

FILLS = ("Trade", "BustTrade")


@dataclass
class Lifetime:
    key: str  # the exec id of the fill that opened it
    side: Side
    size: Decimal = ZERO
    closes: list[Execution] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # indices of its closed-pnl rows in the exchange's list
    pnl: Decimal = ZERO

    @property
    def ended(self) -> bool:
        return self.size == 0

    @property
    def close_orders(self) -> set[str]:
        return {e.order_id for e in self.closes}

    def visible(self, hidden_from: int | None) -> bool:
        """All its closed-pnl rows are listed by /v5/position/closed-pnl (none lags)."""
        return hidden_from is None or all(i < hidden_from for i in self.rows)


@dataclass
class Books:
    """One consistent read of the exchange (taken under the simulator's lock)."""

    lifetimes: list[Lifetime]
    closed: dict[int, ClosedPnl]  # by index in the exchange's list (the one ``hidden_from`` counts in)
    orders: dict[str, Order]  # by orderLinkId (orders that have one)
    fills: list[Execution]  # Trade/BustTrade executions, oldest first
    hidden_from: int | None
    position_side: Side | None
    position_size: Decimal
    stop_loss: Decimal
    trailing: Decimal
    trail_active: bool
    taker: Decimal

    @property
    def lagging(self) -> bool:
        """A closed-PnL row exists that /v5/position/closed-pnl does not list yet."""
        return self.hidden_from is not None and any(i >= self.hidden_from for i in self.closed)

    @property
    def open_lifetime(self) -> Lifetime | None:
        return self.lifetimes[-1] if self.lifetimes and not self.lifetimes[-1].ended else None

    def lifetime_of(self, order_id: str | None) -> Lifetime | None:
        return next((lt for lt in self.lifetimes if order_id in lt.close_orders), None)

    def fills_of(self, order_id: str) -> list[Execution]:
        return [e for e in self.fills if e.order_id == order_id]


def lifetimes(fills: list[Execution], closed: list[tuple[int, ClosedPnl]]) -> list[Lifetime]:
    out: list[Lifetime] = []
    cur: Lifetime | None = None
    k = 0
    for e in fills:
        qty = e.exec_qty
        if e.closed_size:
            assert cur is not None and cur.side is not e.side, f"a closing fill with no position: {e.exec_id}"
            index, row = closed[k]
            assert row.order_id == e.order_id, f"closed-pnl row {index} is not fill {e.exec_id}'s"
            cur.rows.append(index)
            cur.pnl += row.closed_pnl
            cur.size -= e.closed_size
            cur.closes.append(e)
            k += 1
            qty -= e.closed_size
            if cur.ended:
                cur = None
        if qty > 0:
            if cur is None:
                cur = Lifetime(e.exec_id, e.side)
                out.append(cur)
            cur.size += qty
    return out


def read(sim: Simulator, symbol: str) -> Books:
    with sim.lock:
        ex = sim.exchange
        fills = [e for e in ex.executions if e.symbol == symbol and e.exec_type in FILLS]
        closed = [(i, c) for i, c in enumerate(ex.closed) if c.symbol == symbol]
        pos = ex.positions[symbol]
        return Books(lifetimes(fills, closed), dict(closed), {o.link_id: o for o in ex.orders.values() if o.link_id},
                     fills, sim.closed_pnl_hidden_from, pos.side if pos.size else None, pos.size, pos.stop_loss,
                     pos.trailing_stop, pos.trail_active, ex.fees.taker)
