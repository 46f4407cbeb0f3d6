"""The trading rules' one home (tradebot/rules/): Bybit's trailing stop as its docs state it, and the compiled bar
walk (tradebot/backtest/kernel.py) checked against the stop walk (tradebot/rules/stop_walk.py) by hypothesis,
since no run-time check compares them any more."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.care.stops import breakeven_price, breakeven_stop
from tradebot.rules.bybit_trail import first_exit, trail_level, trail_update
from tradebot.rules.stop_walk import NEVER, StopPlan, next_stop
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument, stop_price
from tradebot.sizing.risk import RiskParams


# position/trading-stop.mdx, activePrice: "Trailing stop trigger price. Trailing stop will be triggered when this
# price is reached **only**": reached = traded at (or through) it.
@pytest.mark.parametrize("price", [100, Decimal("100.0")])
def test_trailing_stop_activates_when_its_price_is_reached(price: int | Decimal) -> None:
    assert trail_update(False, 90, 100, 99) == (False, 90)
    assert trail_update(False, price - 10, price, price) == (True, price)  # reached exactly: active
    assert trail_update(False, 90, 100, 107) == (True, 107)  # traded through: active from there


def test_trailing_stop_tracks_the_best_price_and_never_moves_back() -> None:
    on, best = True, 100
    for p in (103, 101, 108, 95):
        on, best = trail_update(on, best, 100, p)
    assert (on, best) == (True, 108)
    assert trail_level(on, best, 5) == 103  # trailingStop is a price distance (trading-stop.mdx)
    assert trail_level(False, best, 5) is None


def test_first_exit_order_and_fill_price() -> None:
    # a continuous move executes at the level it crosses; a gap executes at the price it gapped to
    assert first_exit(100, 90, 95, None, 120, True) == ("StopLoss", 95)
    assert first_exit(100, 90, 95, None, 120, False) == ("StopLoss", 90)
    assert first_exit(100, 90, 94, 96, 120, True) == ("TrailingStop", 96)  # the nearer level first
    assert first_exit(100, 90, 95, 95, 120, True) == ("StopLoss", 95)  # a tie: stop-loss, then trailing
    assert first_exit(100, 125, 95, 96, 120, True) == ("TakeProfit", 120)
    assert first_exit(100, 101, 95, 96, 120, True) is None


def _reference_walk(o: list[int], fav: list[int], adv: list[int], j: int, sl: int, tp: int, best: int,
                    plan: StopPlan, s: int) -> tuple[int, int, int, int]:
    """TickRunner's bar walk with break-even done, written plainly over the rule: (status, bar, stop, moves)."""
    from tradebot.backtest import kernel

    moves = 0
    while j < len(o):
        oc = o[j]
        if oc <= sl:
            return kernel.EXIT_GAP_SL, j, sl, moves
        if oc >= tp:
            return kernel.EXIT_GAP_TP, j, sl, moves
        best = max(best, fav[j - 1], oc)
        got = next_stop(plan, sl=sl, best=best, last=oc, breakeven_done=True, s=s)
        if got is not None:
            sl, moves = got[0], moves + 1
        if adv[j] <= sl or fav[j] >= tp:
            return kernel.PATH, j, sl, moves
        j += 1
    return kernel.END, j, sl, moves


@settings(max_examples=300, deadline=None)
@given(s=st.sampled_from([1, -1]), start=st.integers(50, 5000), moves=st.lists(st.integers(-30, 30), min_size=2,
       max_size=40), spread=st.lists(st.integers(0, 20), min_size=40, max_size=40), gap=st.integers(0, 60),
       trig=st.integers(0, 80), sl_gap=st.integers(1, 100), tp_gap=st.integers(1, 300))
def test_compiled_walk_equals_the_stop_walk(s: int, start: int, moves: list[int], spread: list[int], gap: int,
                                            trig: int, sl_gap: int, tp_gap: int) -> None:
    from tradebot.backtest import kernel as kmod  # numba is in requirements.txt: no skip when it is missing
    closes, price = [], start
    for m in moves:
        price = max(1, price + m)
        closes.append(price)
    o = [closes[0]] + closes[:-1]
    hi = [max(a, b) + spread[k] for k, (a, b) in enumerate(zip(o, closes, strict=True))]
    lo = [max(1, min(a, b) - spread[-1 - k]) for k, (a, b) in enumerate(zip(o, closes, strict=True))]
    if s > 0:
        lo_o, fav, adv = o, hi, lo
    else:  # long space: a short's prices negated, its favourable extreme the low
        lo_o, fav, adv = [-x for x in o], [-x for x in lo], [-x for x in hi]
    entry = lo_o[0]
    plan = StopPlan(tick=1, be_trigger=NEVER, be_floor=NEVER, be_ceil=NEVER, trail_trigger=entry + trig,
                    trail_gap=gap)
    sl, tp = entry - sl_gap, entry + tp_gap
    want = _reference_walk(lo_o, fav, adv, 1, sl, tp, entry, plan, s)
    arr = [np.array(x, dtype=np.int64) for x in (lo_o, fav, adv)]
    status, j, got_sl, _, got_moves = kmod.walk(*arr, 1, sl, tp, entry, NEVER, -NEVER, True, plan.trail_trigger,
                                                 gap, s)
    assert (status, j, got_sl, got_moves) == want


def test_stop_plan_is_exact() -> None:
    """entry 100.05 (off the 0.1 grid), ATR 0.3, fee 0.1%: break-even 100.05·1.001/0.999 + 0.1·0.3 ≈ 100.28."""
    def r(x: str) -> tuple[int, int]:
        q = Fraction(x)
        return q.numerator, q.denominator

    p = StopPlan.build(entry=r("100.05"), atr=r("0.3"), unit=(1, 100), fee=r("0.001"), s=1, be_trigger_atr=r("1"),
                       be_offset_atr=r("0.1"), trail_trigger_atr=r("2"), trail_atr=r("1.5"), trailing=True, tick=10)
    assert (p.be_trigger, p.trail_trigger, p.trail_gap) == (10035, 10065, 45)
    assert (p.be_floor, p.be_ceil, p.breakeven_stop()) == (10028, 10029, 10030)


@settings(max_examples=400, deadline=None)
@given(tick=st.sampled_from([Decimal("0.1"), Decimal("0.01"), Decimal("0.5"), Decimal("0.0001"), Decimal(1)]),
       side=st.sampled_from([1, -1]), entry=st.decimals(Decimal("0.01"), Decimal(10**6), places=4),
       atr=st.decimals(Decimal("0.0001"), Decimal(10**4), places=10),
       fee=st.sampled_from([Decimal(0), Decimal("0.0002"), Decimal("0.00055"), Decimal("0.001"), Decimal("0.0075")]),
       offset=st.sampled_from([Decimal(0), Decimal("0.1"), Decimal("0.5")]))
def test_break_even_has_one_formula(tick: Decimal, side: int, entry: Decimal, atr: Decimal, fee: Decimal,
                                    offset: Decimal) -> None:
    """``care.stops.breakeven_price``/``breakeven_stop`` are the rule's ``breakeven_level`` at the Decimal edge: the
    Decimal formula they replaced, entry·(1 + s·f)/(1 − s·f) + s·offset·ATR, to 24 digits, its stop rounded to the
    tick toward the price as ``StopPlan.breakeven_stop`` places it."""
    params = RiskParams(taker_fee_rate=fee, breakeven_offset_atr=offset)
    inst = Instrument("XUSDT", tick, Decimal("0.001"), Decimal("0.001"), Decimal(10**6), Decimal(10**6), Decimal(5),
                      Decimal(100))
    old = entry * (1 + side * fee) / (1 - side * fee) + side * offset * atr  # the Decimal form, before
    level = breakeven_price(side, entry, atr, params)
    assert abs(level - old) <= abs(old) * Decimal("1e-24")
    stop = breakeven_stop(side, entry, atr, inst, params)
    exact = Fraction(entry) * (1 + side * Fraction(fee)) / (1 - side * Fraction(fee)) + side * Fraction(offset) * Fraction(atr)
    assert side * (Fraction(stop) - exact) >= 0 and side * (Fraction(stop) - exact) < Fraction(tick)  # toward the price
    a, b = Fraction(old) / Fraction(tick), exact / Fraction(tick)
    if a.denominator != 1 and b.denominator != 1 and a // 1 == b // 1:  # no tick between them (all but always)
        assert stop == stop_price(old, inst, Side.BUY if side > 0 else Side.SELL)  # as the Decimal replay rounded it
    n, d = entry.as_integer_ratio()
    plan = StopPlan.build(entry=(side * n, d), atr=atr.as_integer_ratio(), unit=tick.as_integer_ratio(),
                          fee=fee.as_integer_ratio(), s=side, be_trigger_atr=(1, 1),
                          be_offset_atr=offset.as_integer_ratio(), trail_trigger_atr=(1, 1), trail_atr=(1, 1),
                          trailing=False, tick=1)
    assert stop == side * plan.breakeven_stop() * tick
