"""Mark price series and cross-margin maths: maintenance margin, liquidation, bankruptcy and break-even prices."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from tradebot.side import Side

# Maintenance margin rate of risk tier 1 (market/risk-limit.mdx example: "maintenanceMargin": "0.5" %).
MMR = Decimal("0.005")
# The mark price is the mean of the last price at the last MARK_POINTS path points (one 5m candle's open,
# two extremes and close), rounded to the tick: a deterministic smoothing that lags the last price.
MARK_POINTS = 4
# position.mdx: breakeven_price uses max(taker fee rate, 0.00055).
BE_MIN_FEE = Decimal("0.00055")


def to_tick(value: Decimal, tick: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return (value / tick).to_integral_value(rounding=rounding) * tick


def push_mark(window: list[Decimal], price: Decimal, tick: Decimal) -> Decimal:
    """Append ``price`` to the mark window (keeping MARK_POINTS; an empty window starts flat at ``price``)
    and return the new mark price."""
    if not window:
        window.extend([price] * (MARK_POINTS - 1))
    window.append(price)
    del window[:-MARK_POINTS]
    return to_tick(sum(window, Decimal(0)) / len(window), tick)


def liq_price(side: Side, size: Decimal, entry: Decimal, cushion: Decimal, tick: Decimal) -> Decimal | None:
    """Estimated cross-margin liquidation price: the mark price at which the account equity falls to the
    maintenance margin, holding everything else (``cushion`` = wallet + other positions' unrealised PnL -
    their maintenance margin) fixed. Long: (q·e − W)/(q·(1 − MMR)); short: (W + q·e)/(q·(1 + MMR)).
    Rounded one tick towards the position (long up, short down); None when it would be ≤ 0."""
    if not size:
        return None
    if side is Side.BUY:
        p = (size * entry - cushion) / (size * (1 - MMR))
        return to_tick(p, tick, ROUND_CEILING) if p > 0 else None
    p = (cushion + size * entry) / (size * (1 + MMR))
    return to_tick(p, tick, ROUND_FLOOR) if p > 0 else None


def bust_price(side: Side, size: Decimal, entry: Decimal, cushion: Decimal, fee_rate: Decimal,
               tick: Decimal) -> Decimal:
    """Bankruptcy price: closing there (with the taker fee) leaves equity 0 (``cushion`` = wallet + other
    positions' unrealised PnL). Long: (q·e − W)/(q·(1 − f)); short: (W + q·e)/(q·(1 + f)); rounded so equity
    stays ≥ 0, never below one tick."""
    if side is Side.BUY:
        p = to_tick((size * entry - cushion) / (size * (1 - fee_rate)), tick, ROUND_CEILING)
    else:
        p = to_tick((cushion + size * entry) / (size * (1 + fee_rate)), tick, ROUND_FLOOR)
    return max(tick, p)


def breakeven_price(side: Side, size: Decimal, entry: Decimal, realised: Decimal, taker: Decimal) -> Decimal:
    """position.mdx: (entry_price·qty − realized_pnl) / (qty − |qty|·max(taker fee rate, 0.00055)), qty signed
    (negative for a short), realized_pnl = curRealisedPnl; 8 decimals."""
    q = size * side.sign
    be = (entry * q - realised) / (q - size * max(taker, BE_MIN_FEE))
    return be.quantize(Decimal("1e-8"))
