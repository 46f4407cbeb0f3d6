"""Stop management for an open position: exchange trailing spec, break-even and bot-side trailing stops."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from tradebot.instruments import Instrument, as_decimal, round_price, side_sign, stop_price
from tradebot.risk import RiskParams
from tradebot.side import Side


@dataclass(frozen=True)
class TrailingSpec:
    """Bybit trading-stop fields: distance = trailingStop (a PRICE DISTANCE), active_price = activePrice."""

    distance: Decimal
    active_price: Decimal


@dataclass(frozen=True)
class StopUpdate:
    """A tighter stop-loss to send, and why."""

    new_sl: Decimal
    reason: Literal["breakeven", "trailing"]


def update_best(side: Side, best: Decimal | None, price: Decimal) -> Decimal:
    """Best price since entry: highest for a long, lowest for a short (``best=None`` starts at ``price``)."""
    price = as_decimal("price", price)
    if best is None:
        return price
    best = as_decimal("best", best)
    return max(best, price) if side_sign(side) > 0 else min(best, price)


def exchange_trailing(
    *, side: Side, entry: Decimal, atr: Decimal, inst: Instrument, params: RiskParams
) -> TrailingSpec:
    """Trailing stop for Bybit: distance = trail_atr×ATR (nearest tick, ≥ 1 tick), activation at
    entry ± trail_trigger_atr×ATR (nearest tick, ≥ 1 tick on the winning side of entry).

    ValueError when the activation price would be at or below zero (a short with a huge ATR): Bybit reads
    ``activePrice`` 0 as "active at once" and rejects a negative one. :func:`tradebot.risk.size_position`
    refuses such trades before they are sent."""
    s = side_sign(side)
    entry, atr = as_decimal("entry", entry), as_decimal("atr", atr)
    if entry <= 0 or atr <= 0:
        raise ValueError(f"entry and ATR must be > 0 for a trailing stop, got entry {entry}, ATR {atr}")
    tick = inst.tick_size
    distance = max(tick, round_price(params.trail_atr * atr, inst, "nearest"))
    active = round_price(entry + s * params.trail_trigger_atr * atr, inst, "nearest")
    if s * (active - entry) < tick:
        active = round_price(entry + s * tick, inst, "up" if s > 0 else "down")
    if active <= 0:
        raise ValueError(f"trailing activation price {active} would be at or below zero (entry {entry}, "
                         f"ATR {atr}, trail_trigger_atr {params.trail_trigger_atr})")
    return TrailingSpec(distance=distance, active_price=active)


def _inside_last(s: int, last: Decimal, inst: Instrument) -> Decimal:
    """The tick nearest ``last`` strictly on its losing side (below it for a long, above it for a short)."""
    tick = inst.tick_size
    if s > 0:
        return round_price(last, inst, "up") - tick
    return round_price(last, inst, "down") + tick


def breakeven_price(s: int, entry: Decimal, atr: Decimal, params: RiskParams) -> Decimal:
    """The stop that loses nothing after taker fees on entry and exit, plus ``breakeven_offset_atr`` ATRs.

    A long stopped at ``entry·(1+f)/(1−f)`` nets zero after paying ``f`` on both legs (mirrored for a short).
    """
    fee = params.taker_fee_rate
    return entry * (1 + s * fee) / (1 - s * fee) + s * params.breakeven_offset_atr * atr


def next_stop(
    *,
    side: Side,
    entry: Decimal,
    current_sl: Decimal | None,
    best_price: Decimal | None,
    last_price: Decimal,
    atr: Decimal,
    inst: Instrument,
    params: RiskParams,
    breakeven_done: bool,
) -> StopUpdate | None:
    """The stop-loss to move to now, or None to leave it.

    - Break-even (unless ``breakeven_done``): once the favourable excursion (best − entry for a long) reaches
      breakeven_trigger_atr×ATR, SL → the fee-covering break-even price ± breakeven_offset_atr×ATR, once the
      price is beyond that level (until then break-even waits).
    - Trailing (trailing_mode "bot" only; in "exchange" mode Bybit trails): once the excursion reaches
      trail_trigger_atr×ATR, SL → best ∓ trail_atr×ATR.
    - The tightest candidate wins; it is rounded to the tick toward the price (tighter, never looser).
    - A stop at or beyond ``last_price`` would fire at once (and Bybit rejects it), so it is CLAMPED to the
      first tick inside the price (one tick below last for a long, above for a short): price has already
      retraced past the wanted stop, so the closest valid stop is the intended one. A break-even stop is
      never clamped below (long) / above (short) the fee-covering level: then break-even waits, since once
      applied (``breakeven_done``) it is never re-tried.
    - The stop only ever tightens: None unless the result beats ``current_sl`` by at least one tick.
    ``best_price`` is first updated with ``last_price``; ATR ≤ 0 gives None (nothing to measure against).
    """
    s = side_sign(side)
    entry, last, atr = (
        as_decimal("entry", entry),
        as_decimal("last_price", last_price),
        as_decimal("atr", atr),
    )
    if atr <= 0 or last <= 0:
        return None
    best = update_best(side, best_price, last)
    excursion = s * (best - entry)
    candidates: list[tuple[Decimal, Literal["breakeven", "trailing"]]] = []
    be: Decimal | None = None
    if not breakeven_done and excursion >= params.breakeven_trigger_atr * atr:
        be = breakeven_price(s, entry, atr, params)
        if s * (last - be) > 0:  # not before the price is past it: a stop at market would lose the fees
            candidates.append((be, "breakeven"))
    if params.trailing_mode == "bot" and excursion >= params.trail_trigger_atr * atr:
        candidates.append((best - s * params.trail_atr * atr, "trailing"))
    placed: list[tuple[Decimal, Literal["breakeven", "trailing"]]] = []
    for raw, reason in candidates:
        sl = stop_price(raw, inst, side)
        if s * (last - sl) <= 0:
            sl = _inside_last(s, last, inst)
        if reason == "breakeven" and be is not None and s * (sl - be) < 0:
            continue  # clamped inside the price, it would no longer pay the fees: wait for the price to move on
        placed.append((sl, reason))
    if not placed:
        return None
    new_sl, reason = max(placed, key=lambda c: s * c[0])  # tightest; on a tie the first (break-even) wins
    if new_sl <= 0:
        return None
    if current_sl is not None:
        current = as_decimal("current_sl", current_sl)
        if current > 0 and s * (new_sl - current) < inst.tick_size:
            return None
    return StopUpdate(new_sl=new_sl, reason=reason)
