"""Deterministic synthetic order book and the pure market-order fill-price walk (shared with the backtest)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tradebot.side import Side

_SIZE_Q = Decimal("0.001")


@dataclass(frozen=True)
class BookParams:
    """Shape of the synthetic book around the last price.

    Level k (k = 0 .. levels-1) on the ask side sits at ``last + (half_spread_ticks + k) * tick`` and holds
    ``level_notional * (1 + growth * k) / last`` base coin (floored to 0.001, at least 0.001); bids mirror it
    below. The default ``half_spread_ticks = 1`` gives a real spread: best bid = last - 1 tick < best ask =
    last + 1 tick. A market order walks these exact levels (the book /v5/market/orderbook and the tickers'
    bid1/ask1 show), so slippage grows with size; the remainder beyond the last level fills at the last level.
    ``enabled=False`` is an idealised book for tests that pin exact prices: every fill happens exactly at the
    last price (no spread, no slippage), while the displayed book keeps one tick either side of it.
    ``touch_share``: what trades at a resting limit's price when the last price only touches it, as a share of
    one level's size (``level_notional / price``; :func:`proving.sim.resting.touch_qty`); 0 = a touch never
    fills (the backtest's conservative rule).
    """

    enabled: bool = True
    half_spread_ticks: int = 1
    levels: int = 50
    level_notional: Decimal = Decimal("250000")
    growth: Decimal = Decimal("0.5")
    touch_share: Decimal = Decimal(1)

    @classmethod
    def zero(cls) -> BookParams:
        """No spread and no slippage (fills exactly at the last price)."""
        return cls(enabled=False)


def _walk(side: Side, last_price: Decimal, tick_size: Decimal, params: BookParams,
          depth: int) -> Iterator[tuple[Decimal, Decimal]]:
    sign = Side(side).sign  # Side(...) also takes the wire string "Buy"/"Sell" (tests pass it)
    first = params.half_spread_ticks if params.enabled else max(params.half_spread_ticks, 1)
    for k in range(min(depth, params.levels)):
        price = last_price + sign * (first + k) * tick_size
        if price <= 0:
            return
        size = params.level_notional * (1 + params.growth * k) / last_price
        yield price, (size.quantize(_SIZE_Q, rounding=ROUND_FLOOR) or _SIZE_Q)


def book_levels(side: Side, last_price: Decimal, tick_size: Decimal, params: BookParams,
                depth: int) -> list[tuple[Decimal, Decimal]]:
    """Resting levels a taker of ``side`` would hit: asks (ascending) for Buy, bids (descending) for Sell."""
    return list(_walk(side, last_price, tick_size, params, depth))


def touch_price(side: Side, last_price: Decimal, tick_size: Decimal, params: BookParams) -> Decimal:
    """The first price a taker of ``side`` meets (best ask for Buy, best bid for Sell); a limit order at or
    through it is marketable. The idealised book (``enabled=False``) trades at the last price."""
    if not params.enabled:
        return last_price
    return max(tick_size, last_price + Side(side).sign * params.half_spread_ticks * tick_size)


def walk_levels(levels: Iterable[tuple[Decimal, Decimal]], qty: Decimal) -> tuple[Decimal, Decimal, Decimal | None]:
    """A market order of ``qty`` against ``levels`` (best first): the cost of what they fill, the qty left over
    when they are too thin, and the last level's price taken (None: no level)."""
    remaining, cost, price = qty, Decimal(0), None
    for price, size in levels:
        take = min(size, remaining)
        cost += take * price
        remaining -= take
        if remaining <= 0:
            break
    return cost, max(remaining, Decimal(0)), price


def market_fill_price(side: Side, qty: Decimal, last_price: Decimal, tick_size: Decimal,
                      book_params: BookParams = BookParams()) -> Decimal:
    """Average price of a market order of ``qty`` walking the synthetic book (pure, deterministic).

    The levels are exactly :func:`book_levels`; the volume-weighted average is rounded to the tick against
    the taker (up for Buy, down for Sell).
    """
    if not book_params.enabled or qty <= 0:
        return last_price
    cost, remaining, last = walk_levels(_walk(side, last_price, tick_size, book_params, book_params.levels), qty)
    if remaining > 0:  # deeper than the book: the rest at its last level
        cost += remaining * (tick_size if last is None else last)
    vwap = cost / qty
    rounding = ROUND_CEILING if side == Side.BUY else ROUND_FLOOR
    return (vwap / tick_size).to_integral_value(rounding=rounding) * tick_size
