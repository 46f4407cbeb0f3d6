"""Deterministic synthetic order book and the pure market-order fill-price walk (shared with the backtest)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


@dataclass(frozen=True)
class BookParams:
    """Shape of the synthetic book around the last price.

    Level k (k = 0 .. levels-1) on the ask side sits at ``last + (half_spread_ticks + k) * tick`` and holds
    ``level_notional * (1 + growth * k) / last`` base coin; bids mirror it below. A market order walks the
    levels, so slippage grows with size; the remainder beyond the last level fills at the last level.
    ``enabled=False`` means zero slippage: every market fill happens exactly at the last price.
    """

    enabled: bool = True
    half_spread_ticks: int = 0
    levels: int = 50
    level_notional: Decimal = Decimal("250000")
    growth: Decimal = Decimal("0.5")

    @classmethod
    def zero(cls) -> BookParams:
        """No spread and no slippage (fills exactly at the last price)."""
        return cls(enabled=False)


def book_levels(side: str, last_price: Decimal, tick_size: Decimal, params: BookParams,
                depth: int) -> list[tuple[Decimal, Decimal]]:
    """Resting levels a taker of ``side`` would hit: asks (ascending) for Buy, bids (descending) for Sell."""
    sign = 1 if side == "Buy" else -1
    out: list[tuple[Decimal, Decimal]] = []
    first = params.half_spread_ticks if params.enabled else max(params.half_spread_ticks, 1)
    for k in range(min(depth, params.levels)):
        price = last_price + sign * (first + k) * tick_size
        if price <= 0:
            break
        size = params.level_notional * (1 + params.growth * k) / last_price
        out.append((price, size.quantize(Decimal("0.001"), rounding=ROUND_FLOOR) or Decimal("0.001")))
    return out


def market_fill_price(side: str, qty: Decimal, last_price: Decimal, tick_size: Decimal,
                      book_params: BookParams = BookParams()) -> Decimal:
    """Average price of a market order of ``qty`` walking the synthetic book (pure, deterministic).

    The volume-weighted average is rounded to the tick against the taker (up for Buy, down for Sell).
    """
    if not book_params.enabled or qty <= 0:
        return last_price
    sign = 1 if side == "Buy" else -1
    remaining = qty
    cost = Decimal(0)
    price = last_price
    for k in range(book_params.levels):
        price = last_price + sign * (book_params.half_spread_ticks + k) * tick_size
        if price <= 0:
            price = tick_size
        size = book_params.level_notional * (1 + book_params.growth * k) / last_price
        take = min(size, remaining)
        cost += take * price
        remaining -= take
        if remaining <= 0:
            break
    if remaining > 0:
        cost += remaining * price
    vwap = cost / qty
    rounding = ROUND_CEILING if side == "Buy" else ROUND_FLOOR
    return (vwap / tick_size).to_integral_value(rounding=rounding) * tick_size
