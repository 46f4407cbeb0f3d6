"""Maker-first entries and limit take-profits in the backtest (``[execution] mode = "maker_first"``).

The live bot posts a PostOnly limit at the best bid (Buy) or ask (Sell) when the signal's bar has closed. The
backtest cannot see inside a bar or the queue ahead of the order, so its rule is the simulator's resting-limit
rule without the touch share (``proving.sim.resting``, a touch fills nothing):

- the limit rests at the open of the bar after the signal (the price a market entry is sent at), rounded to the
  tick away from the spread; it is not re-priced (re-pricing chases the market, which can only fill it sooner);
- it fills, completely and as maker at its own price, on the first bar of the window whose range trades THROUGH
  it by at least one tick (a Buy: low ≤ limit − tick; a Sell: high ≥ limit + tick); a bar that only touches it
  fills nothing, since the queue ahead of it may have taken all that traded there;
- the window is ``reprice_window_s`` rounded UP to whole bars (at least the next bar);
- nothing filled in the window: ``fallback = "market"`` enters at the open of the bar after the window (a taker
  fill, re-sized at the taker rate), ``"skip"`` trades nothing.

The take-profit is a reduce-only limit for the whole size: it fills at its own price as maker, and only once the
price trades through it by a tick (the replay's take-profit level is moved one tick beyond it). Stops (the stop
loss, Bybit's trailing stop) stay market stops: taker fees and book slippage as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradebot.backtest.position import dec
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument, round_price


@dataclass(frozen=True)
class MakerFill:
    """Where a maker entry filled: the bar and the limit price."""

    bar: int
    price: Decimal


def limit_price(side: Side, open_price: float, inst: Instrument) -> Decimal:
    """The resting entry's price: the bar's open on the tick grid, rounded away from the other side."""
    return round_price(dec(open_price), inst, "down" if Side(side) == Side.BUY else "up")


def find_fill(side: Side, price: Decimal, first: int, bars: int, high: list[float], low: list[float],
              inst: Instrument) -> MakerFill | None:
    """The first bar of ``first .. first + bars - 1`` that trades through ``price`` by a tick, else None."""
    tick, end = inst.tick_size, min(first + bars, len(high))
    if Side(side) == Side.BUY:
        level = price - tick
        for b in range(first, end):
            if dec(low[b]) <= level:
                return MakerFill(b, price)
    else:
        level = price + tick
        for b in range(first, end):
            if dec(high[b]) >= level:
                return MakerFill(b, price)
    return None
