"""The Decimal replay's bar walk: candle columns as float lists, a float pre-scan to the bars where something
may happen, and there the exact Decimal replay (tradebot.backtest.position) of each step."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import pandas as pd

from tradebot.backtest.position import Exit, OpenPosition, Replayer, dec
from tradebot.market import index_ms
from tradebot.sizing.risk import RiskParams

INF = math.inf
_EPS = 1e-9  # relative slack of the float pre-scan; every candidate bar is then replayed exactly in Decimal


def _floats(a: np.ndarray) -> list[float]:
    out: list[float] = a.tolist()  # numpy types tolist() as Any
    return out


class Bars:
    """Float columns as Python lists (fast scalar access) plus the same columns seen from a short ("long space")."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.ts = index_ms(df.index)
        self.n = int(self.ts.size)
        cols = [df[c].to_numpy(np.float64) for c in ("open", "high", "low", "close")]
        self.arr = cols
        self._short: tuple[list[float], list[float], list[float]] | None = None
        diffs = np.diff(self.ts)
        self.interval_ms = int(np.min(diffs)) if diffs.size else 60_000
        first = int(diffs[0]) if diffs.size else self.interval_ms
        self.step_ms = first  # the simulator's path clock uses the first spacing of the replayed candles

    @cached_property
    def o(self) -> list[float]:
        return _floats(self.arr[0])

    @cached_property
    def h(self) -> list[float]:
        return _floats(self.arr[1])

    @cached_property
    def lo(self) -> list[float]:
        return _floats(self.arr[2])

    @cached_property
    def c(self) -> list[float]:
        return _floats(self.arr[3])

    def side_view(self, sign: int) -> tuple[list[float], list[float], list[float]]:
        """(open, favourable extreme, adverse extreme) with prices negated for a short, so one scan fits both."""
        if sign > 0:
            return self.o, self.h, self.lo
        if self._short is None:
            o, h, lo = self.arr[0], self.arr[1], self.arr[2]
            self._short = ((-o).tolist(), (-lo).tolist(), (-h).tolist())
        return self._short

    def path_ms(self, bar: int, point: int) -> int:
        """Market time of a path point, as the simulator stamps fills: open, +1/3, +2/3, end - 1 ms."""
        start, step = int(self.ts[bar]), self.step_ms // 3
        return start + (self.step_ms - 1 if point == 3 else point * step)


def _scan(o: list[float], fav: list[float], adv: list[float], j: int, n: int, sl: float, tp: float, act: float,
          mgmt: float, trail_on: bool, dist: float, best: float, pend: float, tbest: float
          ) -> tuple[int, float, float, float]:
    """First bar ≥ ``j`` where something MAY happen (long space, conservative): the stop/TP/trailing could be
    crossed, the exchange trailing stop could activate, or the tick's best price could move the stop."""
    while j < n:
        b = best if best >= pend else pend
        op = o[j]
        if op > b:
            b = op
        if b >= mgmt:
            break
        hi, lo = fav[j], adv[j]
        if lo <= sl or hi >= tp or hi >= act:
            break
        if trail_on:
            t = tbest if tbest >= hi else hi
            if lo <= t - dist:
                break
            tbest = t
        best, pend = b, hi
        j += 1
    return j, best, pend, tbest


class DecimalRunner:
    """Runs one position to its exit. A float pre-scan finds the bars where something may happen; there each
    step (gap, tick management, path) is replayed exactly in Decimal unless floats prove it cannot fire."""

    def __init__(self, bars: Bars, rp: Replayer, risk: RiskParams) -> None:
        self.bars, self.rp, self.risk = bars, rp, risk
        self._key: tuple[object, ...] = ()
        self._cached: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def _thresholds(self, pos: OpenPosition) -> tuple[float, float, float, float, float]:
        """(stop, take-profit, trailing activation, management, trailing distance) in long space, loosened by eps."""
        key = (pos.sl, pos.trail_on, pos.breakeven_done)
        if key != self._key:
            self._key, self._cached = key, self._compute(pos)
        return self._cached

    def _compute(self, pos: OpenPosition) -> tuple[float, float, float, float, float]:
        s, r = pos.sign, self.risk
        entry, atr = s * float(pos.entry), float(pos.atr_mgmt)
        eps = _EPS * abs(entry) + 1e-12
        sl, tp = s * float(pos.sl) + eps, s * float(pos.tp) - eps
        act = s * float(pos.trail_active_price) - eps if pos.trail_dist and not pos.trail_on else INF
        mgmt = INF
        if atr > 0:
            if self.rp.breakeven_possible(pos):
                mgmt = entry + float(r.breakeven_trigger_atr) * atr
            if r.trailing_mode == "bot":
                trail = max(entry + float(r.trail_trigger_atr) * atr, s * float(pos.sl) + float(r.trail_atr) * atr)
                mgmt = min(mgmt, trail)
            mgmt -= eps
        return sl, tp, act, mgmt, float(pos.trail_dist) - eps

    def run(self, pos: OpenPosition) -> Exit:
        b, rp, s, j0, n = self.bars, self.rp, pos.sign, pos.entry_bar, self.bars.n
        self._key = ()  # a new position: drop the cached thresholds
        o, fav, adv = b.side_view(s)
        sl, tp, act, mgmt, dist = self._thresholds(pos)
        best, tb = s * float(pos.best), s * float(pos.trail_best)
        if adv[j0] <= sl or fav[j0] >= tp or fav[j0] >= act:  # the entry bar's path (no gap, no tick before it)
            ex = rp.walk_path(pos, j0, dec(b.o[j0]), dec(b.h[j0]), dec(b.lo[j0]), dec(b.c[j0]))
            if ex is not None:
                return ex
            sl, tp, act, mgmt, dist = self._thresholds(pos)
            tb = s * float(pos.trail_best)
        elif pos.trail_on:
            tb = max(tb, fav[j0])
        pend, j = fav[j0], j0 + 1
        while j < n:
            c, best, pend, tb = _scan(o, fav, adv, j, n, sl, tp, act, mgmt, pos.trail_on, dist, best, pend, tb)
            if c >= n:
                break
            oc = o[c]
            if pos.trail_on and tb > s * float(pos.trail_best):
                pos.trail_best = dec(s * tb)
            if oc <= sl or oc >= tp or (pos.trail_on and oc <= tb - dist):  # the gap may fire a stop
                ex = rp.gap(pos, c, dec(b.c[c - 1]), dec(b.o[c]))
                if ex is not None:
                    return ex
                tb = s * float(pos.trail_best)
            elif pos.trail_on:
                tb = max(tb, oc)
            elif oc >= act:
                rp.trail_update(pos, dec(b.o[c]))
                tb = s * float(pos.trail_best)
            tick_best = max(best, pend, oc)
            if tick_best >= mgmt:  # the tick may move the stop: replay the live management exactly
                if best > s * float(pos.best):
                    pos.best = dec(s * best)
                rp.manage(pos, dec(s * pend), dec(b.o[c]))
                best = s * float(pos.best)
            else:
                best = tick_best
            sl, tp, act, mgmt, dist = self._thresholds(pos)
            hi, lo = fav[c], adv[c]
            if lo <= sl or hi >= tp or hi >= act or (pos.trail_on and lo <= max(tb, hi) - dist):
                if pos.trail_on and tb > s * float(pos.trail_best):
                    pos.trail_best = dec(s * tb)
                ex = rp.walk_path(pos, c, dec(b.o[c]), dec(b.h[c]), dec(b.lo[c]), dec(b.c[c]))
                if ex is not None:
                    return ex
                sl, tp, act, mgmt, dist = self._thresholds(pos)
                tb = s * float(pos.trail_best)
            elif pos.trail_on:
                tb = max(tb, hi)
            pend, j = hi, c + 1
        return rp.exit_at(pos, n - 1, 3, "EndOfData", dec(b.c[n - 1]))
