"""The tick replay sizes as size_position and trails as next_stop (so a change in either is caught)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from tradebot.backtest.position import journal_atr
from tradebot.backtest.tickpath import TickPath, tick_columns
from tradebot.backtest.ticks import trail_stop
from tradebot.care.stops import next_stop
from tradebot.market_model.book import BookParams
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument
from tradebot.sizing.risk import RiskParams, size_position

TICKS = [Decimal("0.1"), Decimal("0.01"), Decimal("0.5"), Decimal("0.0001"), Decimal("1"), Decimal("0.05")]
STEPS = [Decimal("0.001"), Decimal("0.01"), Decimal("1"), Decimal("0.1"), Decimal("10")]
pct = st.decimals(min_value=Decimal("0.05"), max_value=Decimal("10"), places=2)
atr_mult = st.decimals(min_value=Decimal("0.1"), max_value=Decimal("20"), places=1)


def inst(tick: Decimal, step: Decimal) -> Instrument:
    return Instrument("TESTUSDT", tick, step, step, Decimal(10**9) * step, Decimal(10**6) * step, Decimal(5),
                      Decimal(100))


def tick_sized(i: Instrument, risk: RiskParams, side: int, entry: int, atr: Decimal, wallet: Decimal
               ) -> tuple[int, int, int] | str:
    """What the tick replay sizes for a market entry at ``entry`` ticks (the sizing rule on ticks)."""
    cols = [np.array([entry, entry], dtype=np.int64) for _ in range(4)]
    return TickPath(cols, i, risk, BookParams.zero(), risk.taker_fee_rate).size(side, 0, atr, wallet)


def real_size(side: int, entry: int, atr: Decimal, wallet: Decimal, i: Instrument, risk: RiskParams
              ) -> tuple[int, int, int] | str:
    """``size_position`` itself, in ticks and steps; a refusal comes back as its message."""
    sz = size_position(side=Side.BUY if side > 0 else Side.SELL, entry_price=entry * i.tick_size, atr=atr,
                       available_balance=wallet, inst=i, params=risk)
    if not sz.ok:
        return sz.refused or "refused"
    return int(sz.qty / i.qty_step), int(sz.sl / i.tick_size), int(sz.tp / i.tick_size)


@settings(max_examples=400, deadline=None)
@given(tick=st.sampled_from(TICKS), step=st.sampled_from(STEPS), side=st.sampled_from([1, -1]),
       entry=st.integers(10, 10**7), atr=st.floats(1e-6, 1e5, allow_nan=False), risk_pct=pct,
       sl_atr=atr_mult, tp_atr=atr_mult, lev=st.sampled_from([Decimal(1), Decimal(3), Decimal(5), Decimal(25)]),
       fee=st.sampled_from([Decimal(0), Decimal("0.0002"), Decimal("0.00055"), Decimal("0.001")]),
       max_pct=st.sampled_from([Decimal(100), Decimal(50), Decimal("12.5")]),
       wallet=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**7), places=8),
       slip=st.sampled_from([Decimal(0), Decimal("0.02"), Decimal("0.5")]),
       share=st.sampled_from([Decimal("0.5"), Decimal("0.1"), Decimal(1)]),
       mode=st.sampled_from(["bot", "exchange"]))
def test_tick_sizing_equals_size_position(tick: Decimal, step: Decimal, side: int, entry: int, atr: float,
                                          risk_pct: Decimal, sl_atr: Decimal, tp_atr: Decimal, lev: Decimal,
                                          fee: Decimal, max_pct: Decimal, wallet: Decimal, slip: Decimal,
                                          share: Decimal, mode: str) -> None:
    """The tick replay sizes with the rule itself (no replica): the same qty, stop and target, or the same
    refusal, as size_position (the rule's Decimal edge)."""
    i = inst(tick, step)
    assume(mode == "bot" or tp_atr >= RiskParams().trail_trigger_atr)  # exchange trailing activates before the TP
    risk = RiskParams(risk_pct=risk_pct, sl_atr=sl_atr, tp_atr=tp_atr, leverage=lev, taker_fee_rate=fee,
                      max_position_pct=max_pct, slippage_pct=slip, max_fee_share=share,
                      trailing_mode=mode)  # type: ignore[arg-type]
    a = Decimal(repr(atr))
    got = tick_sized(i, risk, side, entry, a, wallet)
    event("sized" if isinstance(got, tuple) else "refused")
    assert got == real_size(side, entry, a, wallet, i, risk)


def test_tick_sizing_answers_the_usual_cases() -> None:
    i = inst(Decimal("0.1"), Decimal("0.001"))
    risk = RiskParams(taker_fee_rate=Decimal("0.00055"), trailing_mode="bot")
    for side, entry, atr in [(1, 430001, "125.5"), (-1, 430001, "93.1415926535"), (1, 25000, "7.07")]:
        got = tick_sized(i, risk, side, entry, Decimal(atr), Decimal("10000"))
        assert isinstance(got, tuple) and got == real_size(side, entry, Decimal(atr), Decimal("10000"), i, risk)


@settings(max_examples=400, deadline=None)
@given(tick=st.sampled_from(TICKS), side=st.sampled_from([1, -1]), entry=st.integers(100, 10**7),
       atr=st.floats(1e-4, 1e4, allow_nan=False), trail=atr_mult, trigger=atr_mult,
       up=st.integers(0, 10**5), back=st.integers(0, 10**5), sl_gap=st.integers(1, 10**5))
def test_trail_stop_equals_next_stop(tick: Decimal, side: int, entry: int, atr: float, trail: Decimal,
                                     trigger: Decimal, up: int, back: int, sl_gap: int) -> None:
    """In long space (a short's prices negated): best = entry + up, last = best - back, stop = entry - sl_gap."""
    i = inst(tick, Decimal("0.001"))
    risk = RiskParams(trailing_mode="bot", trail_atr=trail, trail_trigger_atr=trigger,
                      breakeven_trigger_atr=Decimal(100))
    am = journal_atr(Decimal(repr(atr)))
    assume(am > 0)
    entry *= side
    best, last, sl = entry + up, entry + up - back, entry - sl_gap
    assume(side * last > 0 and side * sl > 0)
    an, ad = am.as_integer_ratio()
    tn, td = tick.as_integer_ratio()
    tr_n, tr_d = trail.as_integer_ratio()
    floor_d = (tr_n * an * td) // (tr_d * ad * tn)
    trig_n, trig_d = trigger.as_integer_ratio()
    if up * trig_d * ad * tn < trig_n * an * td:  # below the trigger the engine never asks the replica
        return
    got = trail_stop(side, best, sl, last, floor_d)
    upd = next_stop(side="Buy" if side > 0 else "Sell", entry=side * entry * tick, current_sl=side * sl * tick,
                    best_price=side * best * tick, last_price=side * last * tick, atr=am, inst=i, params=risk,
                    breakeven_done=True)
    assert got == (None if upd is None else side * int(upd.new_sl / tick))
    assert upd is None or upd.reason == "trailing"


def test_tick_columns_need_exact_tick_prices() -> None:
    import numpy as np

    ok = tick_columns([np.array([43000.1, 0.3, 12.0])], Decimal("0.1"))
    assert ok is not None and ok[0].tolist() == [430001, 3, 120]
    assert tick_columns([np.array([43000.15])], Decimal("0.1")) is None
    assert tick_columns([np.array([1.0])], Decimal("2.5")) is None  # 1/tick not an integer


def _bars(draw: st.DrawFn, n: int, start: int, move: int) -> list[tuple[int, int, int, int]]:
    """``n`` candles in ticks: a random walk (gaps between bars included), low ≤ open/close ≤ high, all > 0."""
    out, last = [], start
    for _ in range(n):
        o = max(1, last + draw(st.integers(-move, move)))
        c = max(1, o + draw(st.integers(-move, move)))
        h = max(o, c) + draw(st.integers(0, move))
        lo = max(1, min(o, c) - draw(st.integers(0, move)))
        out.append((o, h, lo, c))
        last = c
    return out


@st.composite
def exchange_case(draw: st.DrawFn) -> tuple[object, ...]:
    atr_ticks = draw(st.integers(1, 400))
    bars = _bars(draw, draw(st.integers(1, 25)), draw(st.integers(2000, 100_000)), draw(st.integers(1, 3 * atr_ticks)))
    return (bars, draw(st.sampled_from([1, -1])), atr_ticks, draw(st.sampled_from([Decimal("0.1"), Decimal("0.5")])),
            draw(atr_mult), draw(atr_mult), draw(atr_mult), draw(atr_mult), draw(atr_mult),
            draw(st.sampled_from([Decimal(0), Decimal("0.00055")])), draw(st.booleans()))


@settings(max_examples=400, deadline=None)
@given(case=exchange_case(), mode=st.sampled_from(["exchange", "bot"]), kernel=st.booleans())
def test_tick_run_equals_the_decimal_replay(case: tuple[object, ...], mode: str, kernel: bool) -> None:
    """Both trailing modes on integer ticks (Bybit's trailing stop: activation, tracking, gap and in-bar hits,
    ties; the bot's trailing: the compiled walk with its trusted replica, or the Python walk; break-even in
    both) give the same exit, stop and stop history as ``Replayer`` walking every bar in Decimal."""
    import numpy as np

    from tradebot.backtest.position import Replayer
    from tradebot.backtest.ticks import TickRunner, load_kernel
    from tradebot.market_model.book import BookParams

    bars, s, atr_ticks, atr_frac, sl_atr, tp_atr, be, trig, trail, fee, deep = case  # type: ignore[misc]
    assume(trig <= tp_atr and be > Decimal("0.1"))  # RiskParams validation (defaults: offset 0.1 ATR)
    tick = Decimal("0.1")
    i = inst(tick, Decimal("0.001"))
    risk = RiskParams(trailing_mode=mode, sl_atr=sl_atr, tp_atr=tp_atr, breakeven_trigger_atr=be,
                      trail_trigger_atr=trig, trail_atr=trail, taker_fee_rate=fee)
    book = BookParams() if deep else BookParams.zero()
    atr = atr_ticks * tick * atr_frac
    qty, o0 = Decimal("0.5"), bars[0][0]
    sl_t, tp_t = o0 - s * max(1, int(sl_atr * atr / tick)), o0 + s * max(1, int(tp_atr * atr / tick))
    assume(sl_t > 0 and tp_t > 0)
    side = "Buy" if s > 0 else "Sell"
    rp = Replayer(i, risk, book, fee)
    try:
        pos = rp.open(side=side, qty=qty, ref=o0 * tick, atr=atr, sl=sl_t * tick, tp=tp_t * tick, bar=0)
    except ValueError:  # the activation price would be ≤ 0: size_position refuses such trades
        return
    d = [tuple(Decimal(x) * tick for x in b) for b in bars]
    ex = rp.walk_bar(pos, 0, *d[0], None, None)
    for j in range(1, len(d)):
        if ex is not None:
            break
        ex = rp.walk_bar(pos, j, *d[j], d[j - 1][3], d[j - 1][1] if s > 0 else d[j - 1][2])
    ex = ex or rp.exit_at(pos, len(d) - 1, 3, "EndOfData", d[-1][3])

    cols = [np.array([b[k] for b in bars], dtype=np.int64) for k in range(4)]
    r = TickRunner(cols, i, risk, book, fee)
    r.kernel = load_kernel() if kernel and mode == "bot" else None  # the compiled walk or the Python one
    assert (r.kernel is not None) == (kernel and mode == "bot")
    r.checks = 0  # the trailing replica trusted at once (test_trail_stop_equals_next_stop checks it alone)
    got = r.run(s, qty, r.fill(side, qty, o0), sl_t, tp_t, atr, 0)  # type: ignore[arg-type]
    event(f"{mode}: {got.kind} at point {got.point}" + (f" after a {r.reason} move" if r.moves else ""))
    assert got == ex
    assert (s * r.sl * tick, r.reason, r.moves) == (pos.sl, pos.last_stop_reason, pos.stop_moves)
