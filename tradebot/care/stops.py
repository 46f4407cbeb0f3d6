"""Stop management for an open position: exchange trailing spec, break-even and bot-side trailing stops."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from tradebot.rules.stop_walk import StopPlan, breakeven_level
from tradebot.rules.stop_walk import next_stop as rule_next_stop
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument, as_decimal, round_price, side_sign
from tradebot.sizing.risk import RiskParams
from tradebot.states import StopMoveReason


@dataclass(frozen=True)
class TrailingSpec:
    """Bybit trading-stop fields: distance = trailingStop (a PRICE DISTANCE), active_price = activePrice."""

    distance: Decimal
    active_price: Decimal


@dataclass(frozen=True)
class StopUpdate:
    """A tighter stop-loss to send, and why."""

    new_sl: Decimal
    reason: StopMoveReason  # BREAKEVEN or TRAILING


def update_best(side: Side, best: Decimal | None, price: Decimal) -> Decimal:
    """Best price since entry: highest for a long, lowest for a short (``best=None`` starts at ``price``)."""
    price = as_decimal("price", price)
    if best is None:
        return price
    best = as_decimal("best", best)
    return max(best, price) if side_sign(side) > 0 else min(best, price)


def trailing_active(side: Side, active_price: Decimal | None, best_price: Decimal | None) -> bool:
    """Whether a Bybit trailing stop with ``active_price`` acts now: only once that price has traded
    (position/trading-stop.mdx: "Trailing stop will be triggered when this price is reached only"), judged by the
    best price since entry. Unknown (either None) counts as not active."""
    if active_price is None or best_price is None:
        return False
    return best_price >= active_price if side_sign(side) > 0 else best_price <= active_price


def exchange_trailing(
    *, side: Side, entry: Decimal, atr: Decimal, inst: Instrument, params: RiskParams
) -> TrailingSpec:
    """Trailing stop for Bybit: distance = trail_atr×ATR (nearest tick, ≥ 1 tick), activation at
    entry ± trail_trigger_atr×ATR (nearest tick, ≥ 1 tick on the winning side of entry).

    ValueError when the activation price would be at or below zero (a short with a huge ATR): Bybit reads
    ``activePrice`` 0 as "active at once" and rejects a negative one. :func:`tradebot.sizing.risk.size_position`
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


def breakeven_price(s: int, entry: Decimal, atr: Decimal, params: RiskParams,
                    fee_rate: Decimal | None = None) -> Decimal:
    """The stop that loses nothing after taker fees on entry and exit, plus ``breakeven_offset_atr`` ATRs.

    A long stopped at ``entry·(1+f)/(1−f)`` nets zero after paying ``f`` on both legs (mirrored for a short).
    ``fee_rate``: the rate the trade was sized with (the exchange's, live); None = ``params.taker_fee_rate``.
    The rule is :func:`tradebot.rules.stop_walk.breakeven_level` (exact); this is its Decimal edge (the exact
    level to the context's precision).
    """
    n, d = _breakeven(s, entry, atr, params, fee_rate)
    return s * Decimal(n) / Decimal(d)


def breakeven_stop(s: int, entry: Decimal, atr: Decimal, inst: Instrument, params: RiskParams,
                   fee_rate: Decimal | None = None) -> Decimal:
    """Where break-even puts the stop before any clamp: :func:`breakeven_price` rounded to the tick toward the
    price (up for a long, down for a short), exactly, as the rule's ``StopPlan.breakeven_stop`` does."""
    n, d = _breakeven(s, entry, atr, params, fee_rate)
    tn, td = inst.tick_size.as_integer_ratio()
    return s * -((-n * td) // (d * tn)) * inst.tick_size


def _breakeven(s: int, entry: Decimal, atr: Decimal, params: RiskParams, fee_rate: Decimal | None) -> tuple[int, int]:
    """The break-even level in long space as an exact ratio (``stop_walk.breakeven_level`` from Decimals)."""
    fee = params.taker_fee_rate if fee_rate is None else as_decimal("fee_rate", fee_rate)
    en, ed = as_decimal("entry", entry).as_integer_ratio()
    return breakeven_level(entry=(s * en, ed), atr=as_decimal("atr", atr).as_integer_ratio(),
                           fee=fee.as_integer_ratio(), s=s, offset_atr=params.breakeven_offset_atr.as_integer_ratio())


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
    fee_rate: Decimal | None = None,
) -> StopUpdate | None:
    """The stop-loss to move to now, or None to leave it.

    - Break-even (unless ``breakeven_done``): once the favourable excursion (best − entry for a long) reaches
      breakeven_trigger_atr×ATR, SL → the fee-covering break-even price ± breakeven_offset_atr×ATR, once the
      price is beyond that level (until then break-even waits). ``fee_rate``: the taker rate the trade was sized
      with (None: ``params.taker_fee_rate``), so a break-even exit covers the fees sizing counted.
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
    The rule itself is :func:`tradebot.rules.stop_walk.next_stop` (exact integers, shared with the backtest);
    this is its Decimal edge.
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
    current = as_decimal("current_sl", current_sl) if current_sl is not None else None
    fee = params.taker_fee_rate if fee_rate is None else as_decimal("fee_rate", fee_rate)
    # the edge: every price as an exact integer in long space, in a unit fine enough for all of them
    tick = inst.tick_size
    places = max(0, *(-int(d.as_tuple().exponent) for d in (entry, best, last, tick, current or tick)))
    scale = 10**places

    def units(d: Decimal) -> int:
        return s * int(Fraction(d) * scale)

    en, ed = entry.as_integer_ratio()
    plan = StopPlan.build(
        entry=(s * en, ed), atr=atr.as_integer_ratio(), unit=(1, scale), fee=fee.as_integer_ratio(), s=s,
        be_trigger_atr=params.breakeven_trigger_atr.as_integer_ratio(),
        be_offset_atr=params.breakeven_offset_atr.as_integer_ratio(),
        trail_trigger_atr=params.trail_trigger_atr.as_integer_ratio(), trail_atr=params.trail_atr.as_integer_ratio(),
        trailing=params.trailing_mode == "bot", tick=s * units(tick))
    got = rule_next_stop(plan, sl=units(current) if current is not None and current > 0 else None,
                         best=units(best), last=units(last), breakeven_done=breakeven_done, s=s)
    if got is None:
        return None
    return StopUpdate(new_sl=s * (got[0] // plan.tick) * tick, reason=StopMoveReason(got[1]))
