"""Bybit's trailing stop (trailing_mode "exchange") in the integer-tick replay: the simulator's segment rules
(``Replayer.segment``/``trail_update``) in long-space ticks, bar by bar. A mixin of
:class:`tradebot.backtest.ticks.TickRunner`, whose position state and exits it uses."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from tradebot.backtest.position import Exit, ExitKind
from tradebot.instruments import Instrument
from tradebot.risk import RiskParams
from tradebot.side import Side
from tradebot.stops import exchange_trailing


class ExchangeTrail:
    """The exchange-trailing walk of ``TickRunner`` (long space: a short's prices are negated)."""

    # the runner's state (set in TickRunner.__init__/run)
    inst: Instrument
    risk: RiskParams
    tick: Decimal
    n: int
    _cols: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    s: int
    sl: int
    tp: int
    best: int
    t_dist: int  # Bybit's trailing stop: distance, active price, best price, active
    t_act: int
    t_best: int
    t_on: bool

    if TYPE_CHECKING:  # the runner's own steps
        def _exit(self, bar: int, point: int, kind: ExitKind, base: int) -> Exit: ...

        def _manage(self, last: int) -> None: ...

        def _threshold(self) -> int: ...

    def _run_exchange(self, s: int, entry: int, atr: Decimal, j0: int, thr: int, o: Callable[[int], int],
                      fav: Callable[[int], int], adv: Callable[[int], int]) -> Exit:
        """``Replayer.open``'s trailing stop, then every bar as ``Replayer.walk_bar`` does it, skipping the bars
        where provably nothing fires, activates or moves the stop. ``o``/``fav``/``adv`` read one bar (long
        space): a position lasts few bars, so no list of the whole history is built."""
        side = Side.BUY if s > 0 else Side.SELL
        tick = self.tick
        spec = exchange_trailing(side=side, entry=entry * tick, atr=atr, inst=self.inst, params=self.risk)
        self.t_dist, self.t_act = int(spec.distance / tick), s * int(spec.active_price / tick)
        ref = o(j0)  # the trailing stop starts from the last price the entry was sent at
        self.t_best, self.t_on = ref, ref >= self.t_act
        ex = self._walk(j0)
        if ex is not None:
            return ex
        close = self._cols[3]
        n, j, best = self.n, j0 + 1, self.best
        while j < n:
            oc, hi, lo = o(j), fav(j), adv(j)
            tick_best = max(best, fav(j - 1), oc)
            if tick_best < thr and lo > self.sl and hi < self.tp and (
                    lo > max(self.t_best, hi) - self.t_dist if self.t_on else hi < self.t_act):
                best = tick_best  # a quiet bar: only the best prices move
                if self.t_on and hi > self.t_best:
                    self.t_best = hi
                j += 1
                continue
            hit = self._segment(s * close.item(j - 1), oc, False)
            if hit is not None:
                return self._exit(j, 0, *hit)
            self._trail_update(oc)
            self.best = best = tick_best
            if best >= thr:
                self._manage(oc)
                thr = self._threshold()
            ex = self._walk(j)
            if ex is not None:
                return ex
            j += 1
        return self._exit(n - 1, 3, "EndOfData", s * close.item(n - 1))

    def _walk(self, j: int) -> Exit | None:
        """Bar ``j``'s path from its open (``candle_path``): the first segment that crosses a level exits."""
        s = self.s
        o, h, lo, c = (x.item(j) for x in self._cols)
        path = (o, lo, h, c) if c >= o else (o, h, lo, c)
        a = s * o
        for point in (1, 2, 3):
            b = s * path[point]
            hit = self._segment(a, b, True)
            if hit is not None:
                return self._exit(j, point, *hit)
            self._trail_update(b)
            a = b
        return None

    def _segment(self, a: int, b: int, continuous: bool) -> tuple[ExitKind, int] | None:
        """``Replayer.segment`` in long space: the first level the move ``a``→``b`` crosses (by distance from
        ``a``; ties stop-loss, trailing, take-profit) and the price it executes against."""
        events: list[tuple[int, int, ExitKind, int]] = []
        if b <= self.sl:
            events.append((abs(self.sl - a), 0, "StopLoss", self.sl))
        if self.t_on and b <= self.t_best - self.t_dist:
            level = self.t_best - self.t_dist
            events.append((abs(level - a), 1, "TrailingStop", level))
        if b >= self.tp:
            events.append((abs(self.tp - a), 2, "TakeProfit", self.tp))
        if not events:
            return None
        _, _, kind, level = min(events)
        return kind, level if continuous and min(a, b) <= level <= max(a, b) else b

    def _trail_update(self, price: int) -> None:
        """``Replayer.trail_update`` in long space: activate at the active price, then track the best price."""
        if not self.t_on and price >= self.t_act:
            self.t_on, self.t_best = True, price
        elif self.t_on and price > self.t_best:
            self.t_best = price
