"""Raw indicator arrays: TA-Lib wherever it has the indicator, numpy for session VWAP and relative volume."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import talib
from talib import abstract

from tradebot.market import DAY_MS
from tradebot.strategy.params import PATTERNS, StrategyParams

Raw = dict[str, np.ndarray]


def ta(name: str) -> Callable[..., Any]:
    """TA-Lib function ``name`` minus talib's pandas/polars Series-detection wrapper (``functools.wraps``
    keeps the C-backed function in ``__wrapped__``): we always pass float64 ndarrays, so the check is
    pure overhead (about 1 µs a call). Results are identical to ``talib.<name>``."""
    function: Callable[..., Any] = inspect.unwrap(getattr(talib, name))
    return function


ADX, ATR, BBANDS, CCI, EMA, MACD, MFI, MINUS_DI, OBV, PLUS_DI, ROC, RSI, SAR, SMA, STOCHRSI, SUM, WILLR = (
    ta(n)
    for n in (
        "ADX", "ATR", "BBANDS", "CCI", "EMA", "MACD", "MFI", "MINUS_DI", "OBV", "PLUS_DI", "ROC", "RSI", "SAR", "SMA",
        "STOCHRSI", "SUM", "WILLR",
    )
)
CDL: dict[str, Callable[..., Any]] = {name: ta(function) for name, (function, _) in PATTERNS.items()}


@dataclass(frozen=True, slots=True)
class Candles:
    """Contiguous float64 OHLCV arrays (no NaN rows) plus bar open times in epoch ms."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    ts_ms: np.ndarray

    def __len__(self) -> int:
        return int(self.close.shape[0])


@cache
def pattern_lookback(function: str) -> int:
    """Bars TA-Lib needs before a CDL function can report a pattern (its output is 0, not NaN, before)."""
    return int(abstract.Function(function).lookback)  # type: ignore[attr-defined]  # TA-Lib 0.8.2's abstract.pyi omits Function


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


def compute_raw(c: Candles, p: StrategyParams, live: bool = False) -> Raw:
    """Every array the enabled vote rules read, keyed by name (NaN during each indicator's warm-up).

    TA-Lib always runs over the whole history (its recursions need it). ``live`` computes the numpy-only
    session VWAP for the last bar alone (a 1-element array): live rules read index -1 only.
    """
    r: Raw = {}
    o, h, lo, cl, v = c.open, c.high, c.low, c.close, c.volume
    r["open"] = o
    r["close"] = cl
    atr = ATR(h, lo, cl, p.atr_period)
    r["atr"] = atr
    if p.ema.enabled:
        r["ema_fast"] = EMA(cl, p.ema.fast)
        r["ema_slow"] = EMA(cl, p.ema.slow)
    if p.sma.enabled:
        r["sma"] = SMA(cl, p.sma.period)
    if p.rsi.enabled:
        r["rsi"] = RSI(cl, p.rsi.period)
    if p.stochrsi.enabled:
        s = p.stochrsi
        r["stochrsi_k"] = STOCHRSI(cl, s.period, s.fastk, s.fastd, 0)[0]
    if p.macd.enabled:
        macd, _, hist = MACD(cl, p.macd.fast, p.macd.slow, p.macd.signal)
        r["macd"] = macd
        r["macd_hist"] = hist
    if p.bbands.enabled:
        b = p.bbands
        upper, _, lower = BBANDS(cl, b.period, b.nbdev, b.nbdev, 0)
        r["bb_upper"] = upper
        r["bb_lower"] = lower
    if p.adx.enabled:
        r["adx"] = ADX(h, lo, cl, p.adx.period)
        r["plus_di"] = PLUS_DI(h, lo, cl, p.adx.period)
        r["minus_di"] = MINUS_DI(h, lo, cl, p.adx.period)
    if p.cci.enabled:
        r["cci"] = CCI(h, lo, cl, p.cci.period)
    if p.willr.enabled:
        r["willr"] = WILLR(h, lo, cl, p.willr.period)
    if p.mfi.enabled:
        r["mfi"] = MFI(h, lo, cl, v, p.mfi.period)
    if p.obv.enabled:
        obv = OBV(cl, v)
        r["obv"] = obv
        r["obv_ma"] = SMA(obv, p.obv.period)
    if p.sar.enabled:
        r["sar"] = SAR(h, lo, p.sar.acceleration, p.sar.maximum)
    if p.roc.enabled:
        r["roc"] = ROC(cl, p.roc.period)
    if p.keltner.enabled:
        k = p.keltner
        r["kc_middle"] = EMA(cl, k.period)
        r["kc_atr"] = atr if k.atr_period == p.atr_period else ATR(h, lo, cl, k.atr_period)
    if p.patterns.enabled:
        for name in p.patterns.patterns:
            r["cdl_" + name] = CDL[name](o, h, lo, cl)
    if p.vwap.enabled:
        if p.vwap.mode == "rolling":
            r["vwap"] = rolling_vwap(c, p.vwap.window)
        else:
            r["vwap"] = session_vwap(c, last_only=live)
    if p.volume.enabled:
        r["volume"] = v
        r["volume_ma"] = SMA(v, p.volume.period)
    return r
