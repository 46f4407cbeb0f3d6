"""Bybit's trailing stop (trailing_mode "exchange") in the integer-tick replay: the rule
(``tradebot.rules.bybit_trail``, which the simulator and the Decimal replay call too) in long-space ticks, bar by
bar, skipping the bars where provably nothing happens. Owned by a
:class:`tradebot.backtest.ticks.TickRunner`, whose position (stop, take-profit, best price) and exits it uses."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

import numpy as np

from tradebot.backtest.position import Exit, ExitKind
from tradebot.care.stops import exchange_trailing
from tradebot.rules.bybit_trail import first_exit, trail_level, trail_update
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument
from tradebot.sizing.risk import RiskParams


class Runner(Protocol):
    """The position a ``BybitTrail`` walks, as it reads and moves it (``ticks.TickRunner`` satisfies it; a protocol,
    so this module does not import its owner)."""

    n: int
    tick: Decimal
    inst: Instrument
    risk: RiskParams
    s: int
    sl: int
    tp: int
    best: int

    @property
    def cols(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...

    def exit_at(self, bar: int, point: int, kind: ExitKind, base: int) -> Exit: ...

    def manage(self, last: int) -> None: ...

    def threshold(self) -> int: ...


class BybitTrail:
    """The exchange-trailing walk of one ``TickRunner`` (long space: a short's prices are negated). Its own state
    is Bybit's trailing stop: distance, active price, best price since activation, and whether it is active."""

    def __init__(self, runner: Runner) -> None:
        self.r = runner
        self.t_dist = self.t_act = self.t_best = 0
        self.t_on = False

    def run(self, s: int, entry: int, atr: Decimal, j0: int, thr: int, o: Callable[[int], int],
            fav: Callable[[int], int], adv: Callable[[int], int]) -> Exit:
        """``Replayer.open``'s trailing stop, then every bar as ``Replayer.walk_bar`` does it, skipping the bars
        where provably nothing fires, activates or moves the stop. ``o``/``fav``/``adv`` read one bar (long
        space): a position lasts few bars, so no list of the whole history is built."""
        r = self.r
        side = Side.BUY if s > 0 else Side.SELL
        tick = r.tick
        spec = exchange_trailing(side=side, entry=entry * tick, atr=atr, inst=r.inst, params=r.risk)
        self.t_dist, self.t_act = int(spec.distance / tick), s * int(spec.active_price / tick)
        ref = o(j0)  # the trailing stop starts from the last price the entry was sent at
        self.t_best, self.t_on = ref, ref >= self.t_act
        ex = self.walk(j0)
        if ex is not None:
            return ex
        close = r.cols[3]
        n, j, best = r.n, j0 + 1, r.best
        while j < n:
            oc, hi, lo = o(j), fav(j), adv(j)
            tick_best = max(best, fav(j - 1), oc)
            if tick_best < thr and lo > r.sl and hi < r.tp and (
                    lo > max(self.t_best, hi) - self.t_dist if self.t_on else hi < self.t_act):
                best = tick_best  # a quiet bar: only the best prices move
                if self.t_on and hi > self.t_best:
                    self.t_best = hi
                j += 1
                continue
            hit = self.segment(s * close.item(j - 1), oc, False)
            if hit is not None:
                return r.exit_at(j, 0, *hit)
            self.update(oc)
            r.best = best = tick_best
            if best >= thr:
                r.manage(oc)
                thr = r.threshold()
            ex = self.walk(j)
            if ex is not None:
                return ex
            j += 1
        return r.exit_at(n - 1, 3, "EndOfData", s * close.item(n - 1))

    def walk(self, j: int) -> Exit | None:
        """Bar ``j``'s path from its open (``candle_path``): the first segment that crosses a level exits."""
        r = self.r
        s = r.s
        o, h, lo, c = (x.item(j) for x in r.cols)
        path = (o, lo, h, c) if c >= o else (o, h, lo, c)
        a = s * o
        for point in (1, 2, 3):
            b = s * path[point]
            hit = self.segment(a, b, True)
            if hit is not None:
                return r.exit_at(j, point, *hit)
            self.update(b)
            a = b
        return None

    def segment(self, a: int, b: int, continuous: bool) -> tuple[ExitKind, int] | None:
        """``tradebot.rules.bybit_trail.first_exit`` with this position's levels (long space)."""
        r = self.r
        return first_exit(a, b, r.sl, trail_level(self.t_on, self.t_best, self.t_dist), r.tp, continuous)

    def update(self, price: int) -> None:
        """``tradebot.rules.bybit_trail.trail_update``: activate at the active price, then track the best price."""
        self.t_on, self.t_best = trail_update(self.t_on, self.t_best, self.t_act, price)
