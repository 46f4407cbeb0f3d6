"""Signal-engine benchmark: overhead vs bare TA-Lib, 100 symbols × 1,000 bars, 500,000-bar series."""

from __future__ import annotations

import gc
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import talib

from tradebot.market import COLUMNS, load_csv, resample
from tradebot.strategy import StrategyParams, compute_series, compute_signal
from tradebot.strategy.params import PATTERNS

DESCRIPTION = "signal engine speed: ratio vs bare TA-Lib, 100 symbols x 1k bars, 500k-bar series"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "BTCUSDT_5m.csv"
HTF_INTERVALS = ("60", "240", "D")


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Fastest wall time of ``repeats`` runs (seconds), garbage collector paused as ``timeit`` does."""
    best = float("inf")
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return best


def synthesize(real: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` 5m bars by bootstrapping real bars' shapes and de-meaned log returns (a driftless random walk)."""
    o, h, lo, c, v = (real[k].to_numpy(np.float64) for k in COLUMNS)
    prev = c[:-1]
    o, h, lo, c, v = o[1:], h[1:], lo[1:], c[1:], v[1:]
    ret = np.log(c / prev)
    ret -= ret.mean()
    pick = np.random.default_rng(seed).integers(0, ret.size, n)
    close = float(prev[-1]) * np.exp(np.cumsum(ret[pick]))
    prev_close = np.r_[float(prev[-1]), close[:-1]]
    opens = prev_close * (o / prev)[pick]
    top = np.maximum(opens, close) * (h / np.maximum(o, c))[pick]
    bottom = np.minimum(opens, close) * (lo / np.minimum(o, c))[pick]
    start = int(real.index[0].timestamp() * 1000)
    index = pd.DatetimeIndex(pd.to_datetime(start + 300_000 * np.arange(n), unit="ms", utc=True), name="time")
    data = {"open": opens, "high": top, "low": bottom, "close": close, "volume": v[pick]}
    return pd.DataFrame(data, index=index)


def book_from(price: float, levels: int = 50) -> dict[str, list[tuple[float, float]]]:
    """A synthetic order book around ``price`` (best first)."""
    sizes = np.linspace(0.5, 3.0, levels)
    return {
        "bids": [(price - 0.1 * (k + 1), float(sizes[k])) for k in range(levels)],
        "asks": [(price + 0.1 * (k + 1), float(sizes[::-1][k])) for k in range(levels)],
    }


def bare_talib(
    arrays: dict[str, np.ndarray], htf_close: dict[str, np.ndarray], p: StrategyParams, lib: Any = talib
) -> None:
    """The TA-Lib calls ``compute_signal`` makes for ``p`` (the default config), on ready float64 arrays.

    ``lib`` is the public ``talib`` module, or a namespace of the same functions unwrapped (what the
    engine calls: talib's pandas/polars Series check stripped off, see ``indicators.ta``).
    """
    o, h, lo, c, v = (arrays[k] for k in COLUMNS)
    talib = lib  # noqa: F811 - same calls, either flavour
    talib.ATR(h, lo, c, p.atr_period)
    talib.EMA(c, p.ema.fast)
    talib.EMA(c, p.ema.slow)
    talib.SMA(c, p.sma.period)
    talib.RSI(c, p.rsi.period)
    talib.STOCHRSI(c, p.stochrsi.period, p.stochrsi.fastk, p.stochrsi.fastd, 0)
    talib.MACD(c, p.macd.fast, p.macd.slow, p.macd.signal)
    talib.BBANDS(c, p.bbands.period, p.bbands.nbdev, p.bbands.nbdev, 0)
    talib.ADX(h, lo, c, p.adx.period)
    talib.PLUS_DI(h, lo, c, p.adx.period)
    talib.MINUS_DI(h, lo, c, p.adx.period)
    talib.CCI(h, lo, c, p.cci.period)
    talib.WILLR(h, lo, c, p.willr.period)
    talib.MFI(h, lo, c, v, p.mfi.period)
    talib.SMA(talib.OBV(c, v), p.obv.period)
    talib.SAR(h, lo, p.sar.acceleration, p.sar.maximum)
    talib.ROC(c, p.roc.period)
    talib.EMA(c, p.keltner.period)
    talib.ATR(h, lo, c, p.keltner.atr_period)
    for name in p.patterns.patterns:
        getattr(talib, PATTERNS[name][0])(o, h, lo, c)
    talib.SMA(v, p.volume.period)
    for hp in p.higher_timeframes:
        (talib.EMA if hp.method == "ema_slope" else talib.SMA)(htf_close[hp.interval], hp.period)


def main(argv: list[str]) -> int:
    p = StrategyParams()
    real, quality = load_csv(SAMPLE)
    print(f"sample: {SAMPLE.name}: {quality.summary()}")
    base = real.iloc[-1000:]
    # live HTF frames come from Bybit klines (frame_from_rows: plain OHLCV), so drop resample's flag column
    htf = {iv: resample(real, iv)[list(COLUMNS)] for iv in HTF_INTERVALS}
    book = book_from(float(base["close"].iloc[-1]))
    arrays = {k: base[k].to_numpy(np.float64).copy() for k in COLUMNS}
    htf_close = {iv: f["close"].to_numpy(np.float64).copy() for iv, f in htf.items()}

    repeats = 300
    compute_signal("BTCUSDT", base, p, book=book, htf=htf)  # warm caches (TA-Lib lookbacks)
    unwrapped = SimpleNamespace(**{n: inspect.unwrap(getattr(talib, n)) for n in talib.get_functions()})
    t_talib = best_of(lambda: bare_talib(arrays, htf_close, p), repeats)
    t_unwrapped = best_of(lambda: bare_talib(arrays, htf_close, p, unwrapped), repeats)
    t_signal = best_of(lambda: compute_signal("BTCUSDT", base, p, book=book, htf=htf), repeats)
    ratio = t_signal / t_talib
    print(f"1 symbol x 1000 bars (+ 3 HTF frames, 50-level book): compute_signal {t_signal * 1e6:.0f} us, "
          f"bare TA-Lib calls {t_talib * 1e6:.0f} us (best of {repeats}) -> ratio {ratio:.2f} (target <= 2.00)")
    print(f"  same calls without talib's Series-check wrapper (as the engine makes them): "
          f"{t_unwrapped * 1e6:.0f} us -> ratio {t_signal / t_unwrapped:.2f}")

    big = synthesize(real, 100 * 1000 + 200, seed=1)
    frames = [big.iloc[k * 1000 : k * 1000 + 1000] for k in range(100)]
    htfs = [{iv: resample(f, iv)[list(COLUMNS)] for iv in HTF_INTERVALS} for f in frames]
    books = [book_from(float(f["close"].iloc[-1])) for f in frames]

    def hundred() -> None:
        for k in range(100):
            compute_signal(f"SYM{k}", frames[k], p, book=books[k], htf=htfs[k])

    t_100 = best_of(hundred, 3)
    print(f"100 symbols x 1000 bars: {t_100:.3f} s (best of 3, one core; target < 1 s)")

    series_df = synthesize(real, 500_000, seed=2)
    series_htf = {iv: resample(series_df, iv) for iv in HTF_INTERVALS}
    out = compute_series(series_df, p, series_htf)
    t_series = best_of(lambda: compute_series(series_df, p, series_htf), 3)
    counts = out["action"].value_counts().to_dict()
    print(f"series 500000 bars: {t_series:.3f} s (best of 3; target < 3 s); actions {counts}; "
          f"NaN scores {int(out['score'].isna().sum())}")
    print(f"signals: ratio_vs_talib={ratio:.2f} symbols100_s={t_100:.2f} series500k_s={t_series:.2f}")
    return 0
