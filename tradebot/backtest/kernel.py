"""The bot-trailing bar walk of the integer-tick replay, compiled with numba (loaded lazily, cached on disk)."""

# The same steps as TickRunner.run's Python loop, bar by bar in long space (a short's prices negated): the gap
# to the open, the tick's best price, the bot's trailing step (tradebot.rules.stop_walk.trail_step, compiled;
# tests/test_trading_rules.py checks this walk against the rule by hypothesis), and the bar's path. It hands the
# bar back to Python whenever break-even may move the stop (the rule's next_stop decides there). Every value is an int64 tick
# count far below 2**62 (prices are at most 2**52 ticks, see tickpath.tick_columns), so no step can overflow.

from __future__ import annotations

import numpy as np
from numba import njit

EXIT_GAP_SL, EXIT_GAP_TP, PATH, MANAGE, END = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True)
def walk(o: np.ndarray, fav: np.ndarray, adv: np.ndarray, j: int, sl: int, tp: int, best: int, b_trig: int,
         be_level: int, be_done: bool, t_trig: int, floor_d: int, s: int
         ) -> tuple[int, int, int, int, int]:
    """From bar ``j`` (after the entry bar) to the first bar Python must finish: (status, bar, stop, best,
    trailing moves made). ``status``: EXIT_GAP_SL/EXIT_GAP_TP (the gap fires the stop or target at the open),
    PATH (the bar's path reaches the stop or target), MANAGE (the tick needs the rule's ``next_stop``; nothing of
    bar ``j`` is applied yet except the best price), END (no exit before the data ends)."""
    n = o.shape[0]
    moves = 0
    while j < n:
        oc = o[j]
        if oc <= sl:
            return EXIT_GAP_SL, j, sl, best, moves
        if oc >= tp:
            return EXIT_GAP_TP, j, sl, best, moves
        prev = fav[j - 1]
        if prev > best:
            best = prev
        if oc > best:
            best = oc
        be_possible = not be_done and be_level - sl >= 1
        if be_possible and best >= b_trig:
            return MANAGE, j, sl, best, moves
        if best >= t_trig:  # trail_stop: floor(trail_atr×ATR) ticks behind the best, one tick inside the last
            new = best - floor_d
            if oc <= new:
                new = oc - 1
            if s * new > 0 and new - sl >= 1:
                sl = new
                moves += 1
        if adv[j] <= sl or fav[j] >= tp:
            return PATH, j, sl, best, moves
        j += 1
    return END, j, sl, best, moves


def warm() -> bool:
    """Compile ``walk`` (or load it from numba's on-disk cache) with a tiny call; True when it was compiled now."""
    a = np.arange(4, dtype=np.int64)
    walk(a, a, a, 1, 0, 2, 0, 1, 0, False, 1, 0, 1)
    return bool(walk.stats.cache_misses)
