"""VWAP (of typical price; per UTC day, or over a rolling window): value the VWAP; vote
clip((close − VWAP)/(atr_scale·ATR), -1, 1) with the strategy's ATR."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from tradebot.market import DAY_MS
from tradebot.strategy.arrays import Candles, Raw, ta
from tradebot.strategy.indicator import PRICE, Indicator, IndicatorParams, Inputs
from tradebot.strategy.votes import Ops, Result

SUM = ta("SUM")


class VWAPParams(IndicatorParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    mode: Literal["session", "rolling"] = "session"
    window: int = Field(288, ge=2, le=100_000, description="bars in the rolling window (mode=rolling)")
    atr_scale: float = Field(1.0, gt=0.0, le=100.0, description="distance in ATRs that earns a full vote")


def session_vwap(c: Candles, last_only: bool = False) -> np.ndarray:
    """VWAP of typical price since 00:00 UTC of each bar's day; NaN for the first day if the data starts
    after midnight (a partial session) and while the session has no volume yet.

    Sums run sequentially from each session's first bar (a per-session cumsum, vectorised through a
    sessions × bars grid), so ``last_only`` (live: a 1-element array for the last bar, summing just the
    last session) gives the vectorised value bit for bit, however long the history.
    """
    n = len(c)
    if n == 0:
        return np.empty(0)
    ts = c.ts_ms
    partial_first = int(ts[0]) % DAY_MS != 0
    first_day = int(ts[0]) // DAY_MS
    if last_only:
        last_day = int(ts[-1]) // DAY_MS
        if partial_first and last_day == first_day:
            return np.array([np.nan])
        s = int(ts.searchsorted(last_day * DAY_MS))  # first bar of the last session
        pv = np.cumsum((c.high[s:] + c.low[s:] + c.close[s:]) / 3.0 * c.volume[s:])[-1]
        vol = np.cumsum(c.volume[s:])[-1]
        return np.array([pv / vol if vol > 0.0 else np.nan])
    day = ts // DAY_MS
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    lengths = np.diff(np.r_[starts, n])
    row = np.repeat(np.arange(starts.size), lengths)
    col = np.arange(n) - starts[row]
    grid = np.zeros((2, starts.size, int(lengths.max())))
    grid[0, row, col] = (c.high + c.low + c.close) / 3.0 * c.volume
    grid[1, row, col] = c.volume
    sums = np.cumsum(grid, axis=2)[:, row, col]
    vol = sums[1]
    vwap = np.where(vol > 0.0, sums[0] / np.where(vol > 0.0, vol, 1.0), np.nan)
    if partial_first:
        vwap[day == first_day] = np.nan  # the first session is cut off: warming up
    return vwap


def rolling_vwap(c: Candles, window: int) -> np.ndarray:
    """VWAP of typical price over the last ``window`` bars (TA-Lib SUM of price×volume / SUM of volume)."""
    tp = (c.high + c.low + c.close) / 3.0
    pv = SUM(tp * c.volume, window)
    vol = SUM(c.volume, window)
    return np.where(vol > 0.0, pv / np.where(vol > 0.0, vol, 1.0), np.nan)


def _compute(s: Inputs, p: VWAPParams, raw: Raw) -> None:
    """The live run's session VWAP is the last bar's alone (a 1-element array: live rules read index -1)."""
    if p.mode == "rolling":
        raw["vwap"] = rolling_vwap(s.candles, p.window)
    else:
        raw["vwap"] = session_vwap(s.candles, last_only=s.live)


def _vote(c: Ops, p: VWAPParams) -> Result:
    vwap, atr = c.get("vwap"), c.get("atr")
    return vwap, c.clip(c.div(c.get("close") - vwap, p.atr_scale * atr), -1.0, 1.0), c.ok(vwap, atr)


INDICATOR = Indicator(name="vwap", order=16, params=VWAPParams, compute=_compute, vote=_vote,
                      label=lambda p: "VWAP", unit=PRICE)
