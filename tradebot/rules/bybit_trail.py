"""Bybit's trailing stop and the price path's exits, the one home of the rule (position/trading-stop.mdx).

In long space (a short's prices negated, so every rule reads as for a long) and in any exact number type: the
integer-tick replay passes ticks, the Decimal replay and the simulator pass Decimals. The trailing stop acts
only once a trade reaches its activation price ("Trailing stop will be triggered when this price is reached
only"); from then it tracks the best price, and its trigger level is that best price minus the distance."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, TypeVar

P = TypeVar("P", int, Decimal)
ExitKind = Literal["StopLoss", "TakeProfit", "TrailingStop", "EndOfData"]


def trail_update(active: bool, best: P, active_price: P, price: P) -> tuple[bool, P]:
    """(active, best price) after a trade at ``price``: the stop activates at ``active_price`` (its best price
    starts there), then its best price follows every better trade."""
    if not active:
        return (True, price) if price >= active_price else (False, best)
    return True, price if price > best else best


def trail_level(active: bool, best: P, distance: P) -> P | None:
    """The trailing stop's trigger level (long space), or None before it activates."""
    return best - distance if active else None


def first_exit(a: P, b: P, sl: P | None, trail: P | None, tp: P | None, continuous: bool
               ) -> tuple[ExitKind, P] | None:
    """The first level a monotone move ``a``→``b`` crosses (long space: stop and trailing stop below, take-profit
    above; by distance from ``a``, ties stop-loss, trailing stop, take-profit) and the price it executes against:
    its level on a continuous move that passes through it, ``b`` on a gap. None: nothing is crossed."""
    events: list[tuple[P, int, ExitKind, P]] = []
    if sl is not None and b <= sl:
        events.append((abs(sl - a), 0, "StopLoss", sl))
    if trail is not None and b <= trail:
        events.append((abs(trail - a), 1, "TrailingStop", trail))
    if tp is not None and b >= tp:
        events.append((abs(tp - a), 2, "TakeProfit", tp))
    if not events:
        return None
    _, _, kind, level = min(events, key=lambda e: (e[0], e[1]))
    return kind, level if continuous and min(a, b) <= level <= max(a, b) else b
