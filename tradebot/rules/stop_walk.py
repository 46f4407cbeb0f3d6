"""The bot's stop walk in exact integers: break-even, trailing, never loosen (the one home of the rule).

Prices are integers in "long space" (a short's prices negated, so every rule reads as for a long) in a unit of
``tick / plan.tick``: the backtest's candles are whole ticks (``plan.tick == 1``); the live edge
(``tradebot.care.stops.next_stop``) picks a finer unit when its Decimals need one. Everything that depends on the
entry and the ATR (Decimals, not on the grid) is worked out once, exactly, into a :class:`StopPlan`; each tick is
then integer comparisons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Reason = Literal["breakeven", "trailing"]
Ratio = tuple[int, int]  # an exact number: (numerator, denominator > 0)
NEVER = 1 << 62  # a level no price reaches (every price is far below 2**62 units)


def ceil_grid(x: int, tick: int) -> int:
    """The smallest multiple of ``tick`` at or above ``x``."""
    return -((-x) // tick) * tick


@dataclass(frozen=True, slots=True)
class StopPlan:
    """One position's stop rules as integer levels (long space, in units; ``tick`` units per tick).

    ``be_trigger``/``trail_trigger``: the lowest best price at which break-even / trailing is due (``NEVER``: not
    used). ``be_floor``/``be_ceil``: the fee-covering break-even price rounded down / up to a unit (break-even
    waits until the last price is above it, and is never placed below it). ``trail_gap``: trail_atr×ATR rounded
    down to a unit (the trailing stop is ``best − trail_gap`` rounded up to the tick)."""

    tick: int
    be_trigger: int
    be_floor: int
    be_ceil: int
    trail_trigger: int
    trail_gap: int

    @staticmethod
    def build(*, entry: Ratio, atr: Ratio, unit: Ratio, fee: Ratio, s: int, be_trigger_atr: Ratio,
              be_offset_atr: Ratio, trail_trigger_atr: Ratio, trail_atr: Ratio, trailing: bool, tick: int
              ) -> StopPlan:
        """The plan for a position entered at ``entry`` (real price in long space: ``s × price``) with ``atr``,
        in units of ``unit`` (a real price step); every number an exact ratio (numerator, denominator > 0), as
        ``Decimal.as_integer_ratio`` gives it (integer arithmetic only: this runs once per backtest position).
        Break-even: :func:`breakeven_level`."""
        (en, ed), (an, ad), (un, ud) = entry, atr, unit

        def level(k: Ratio) -> tuple[int, int]:  # (entry + k × ATR) / unit as (numerator, denominator)
            kn, kd = k
            return (en * kd * ad + kn * an * ed) * ud, ed * kd * ad * un

        bn, bd = level(be_trigger_atr)
        tn, td = level(trail_trigger_atr)
        gn, gd = trail_atr
        be_n, be_d = breakeven_level(entry=entry, atr=atr, fee=fee, s=s, offset_atr=be_offset_atr)
        be_n, be_d = be_n * ud, be_d * un
        return StopPlan(
            tick=tick,
            be_trigger=-((-bn) // bd),
            be_floor=be_n // be_d,
            be_ceil=-((-be_n) // be_d),
            trail_trigger=-((-tn) // td) if trailing else NEVER,
            trail_gap=(gn * an * ud) // (gd * ad * un),
        )

    def breakeven_stop(self) -> int:
        """Where break-even puts the stop: the fee-covering price rounded to the tick toward the price."""
        return ceil_grid(self.be_ceil, self.tick)


def breakeven_level(*, entry: Ratio, atr: Ratio, fee: Ratio, s: int, offset_atr: Ratio) -> Ratio:
    """The fee-covering break-even price, exactly, in long space: ``entry·(1+f)/(1−f)`` for a long (a short's
    ``entry·(1−f)/(1+f)``, negated: ``entry`` is ``s`` × the price) plus ``offset_atr`` ATRs, so a stop filled
    there nets zero after the fee ``f`` on both legs. Every number an exact ratio; ``f`` below 1."""
    (en, ed), (an, ad), (fn, fd), (on, od) = entry, atr, fee, offset_atr
    up, down = fd + s * fn, fd - s * fn  # 1 + s·f and 1 − s·f, over fd
    return en * up * od * ad + on * an * ed * down, ed * down * od * ad


def trail_step(s: int, best: int, sl: int, last: int, gap: int, tick: int = 1) -> int | None:
    """The trailing part alone (past its trigger, no break-even candidate): ``gap`` units behind the best price
    rounded up to the tick, clamped one tick inside the last price; the new stop if its real price (``s`` × it)
    is above zero and it tightens ``sl`` by at least one tick, else None. (With ``tick == 1``: what the compiled
    walk does, which tests check against :func:`next_stop`.)"""
    new = ceil_grid(best - gap, tick)
    if last <= new:
        new = ceil_grid(last, tick) - tick
    return None if s * new <= 0 or new - sl < tick else new


def next_stop(plan: StopPlan, *, sl: int | None, best: int, last: int, breakeven_done: bool, s: int
              ) -> tuple[int, Reason] | None:
    """The stop to move to now (long space, units) and why, or None to leave it.

    ``best`` already includes ``last``. Break-even (unless done) once the best price reaches its trigger and the
    last price is above the fee-covering level, never placed below that level; trailing once the best price
    reaches its trigger. Each candidate is rounded up to the tick and clamped one tick inside the last price; the
    tightest wins (break-even on a tie). The stop only tightens: None unless it beats ``sl`` (None: no stop) by
    a tick. ``s``: +1 long, −1 short (the real price is ``s`` × the long-space one); a stop whose real price would
    be at or below zero is never given."""
    tick = plan.tick
    inside = ceil_grid(last, tick) - tick  # the first tick strictly below the last price
    got: tuple[int, Reason] | None = None
    if not breakeven_done and best >= plan.be_trigger and last > plan.be_floor:
        stop = plan.breakeven_stop()
        if last <= stop:
            stop = inside
        if stop >= plan.be_ceil:  # clamped below the fee-covering level: break-even waits
            got = (stop, "breakeven")
    if best >= plan.trail_trigger:
        stop = ceil_grid(best - plan.trail_gap, tick)
        if last <= stop:
            stop = inside
        if got is None or stop > got[0]:
            got = (stop, "trailing")
    if got is None or s * got[0] <= 0:
        return None
    if sl is not None and got[0] - sl < tick:
        return None
    return got
