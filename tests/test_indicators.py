"""Indicator values equal TA-Lib called directly; each vote follows its documented rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from tradebot.market import COLUMNS, load_csv
from tradebot.strategy import StrategyParams, compute_series, compute_signal
from tradebot.strategy.engine import _candles
from tradebot.strategy.indicators import compute_raw, pattern_lookback, rolling_vwap, session_vwap
from tradebot.strategy.params import PATTERNS

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "BTCUSDT_5m.csv"
NO_HTF = {"higher_timeframes": []}


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return load_csv(SAMPLE)[0]


def _frame(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
           start: str = "2025-06-01") -> pd.DataFrame:
    index = pd.date_range(start, periods=len(c), freq="5min", tz="UTC", name="time")
    return pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "volume": v}, index=index)


def _trend(n: int = 300, growth: float = 0.01) -> pd.DataFrame:
    """Geometric trend: each bar opens at the previous close and moves ``growth`` (bullish if > 0)."""
    c = 100.0 * (1.0 + growth) ** np.arange(1, n + 1)
    o = np.r_[100.0, c[:-1]]
    return _frame(o, np.maximum(o, c) * 1.002, np.minimum(o, c) * 0.998, c, np.full(n, 10.0))


def test_raw_values_equal_talib(real: pd.DataFrame) -> None:
    p = StrategyParams()
    candles, mask, _ = _candles(real)
    assert mask is None
    raw = compute_raw(candles, p)
    o, h, lo, c, v = (real[k].to_numpy(np.float64) for k in COLUMNS)
    macd, _, hist = talib.MACD(c, 12, 26, 9)
    upper, _, lower = talib.BBANDS(c, 20, 2.0, 2.0, 0)
    expected = {
        "atr": talib.ATR(h, lo, c, 14),
        "ema_fast": talib.EMA(c, 9),
        "ema_slow": talib.EMA(c, 21),
        "sma": talib.SMA(c, 200),
        "rsi": talib.RSI(c, 14),
        "stochrsi_k": talib.STOCHRSI(c, 14, 14, 3, 0)[0],
        "macd": macd,
        "macd_hist": hist,
        "bb_upper": upper,
        "bb_lower": lower,
        "adx": talib.ADX(h, lo, c, 14),
        "plus_di": talib.PLUS_DI(h, lo, c, 14),
        "minus_di": talib.MINUS_DI(h, lo, c, 14),
        "cci": talib.CCI(h, lo, c, 20),
        "willr": talib.WILLR(h, lo, c, 14),
        "mfi": talib.MFI(h, lo, c, v, 14),
        "obv": talib.OBV(c, v),
        "obv_ma": talib.SMA(talib.OBV(c, v), 20),
        "sar": talib.SAR(h, lo, 0.02, 0.2),
        "roc": talib.ROC(c, 10),
        "kc_middle": talib.EMA(c, 20),
        "kc_atr": talib.ATR(h, lo, c, 10),
        "volume_ma": talib.SMA(v, 20),
        "cdl_engulfing": talib.CDLENGULFING(o, h, lo, c),
        "cdl_hammer": talib.CDLHAMMER(o, h, lo, c),
        "cdl_shooting_star": talib.CDLSHOOTINGSTAR(o, h, lo, c),
        "cdl_morning_star": talib.CDLMORNINGSTAR(o, h, lo, c),
        "cdl_evening_star": talib.CDLEVENINGSTAR(o, h, lo, c),
        "cdl_doji": talib.CDLDOJI(o, h, lo, c),
    }
    for key, want in expected.items():
        np.testing.assert_array_equal(raw[key], want, err_msg=key)
    assert np.isfinite(raw["atr"][14:]).all() and np.isnan(raw["atr"][:14]).all()


def test_rolling_vwap_is_talib_sum_ratio(real: pd.DataFrame) -> None:
    candles = _candles(real)[0]
    h, lo, c, v = (real[k].to_numpy(np.float64) for k in ("high", "low", "close", "volume"))
    tp = (h + lo + c) / 3.0
    np.testing.assert_array_equal(rolling_vwap(candles, 96), talib.SUM(tp * v, 96) / talib.SUM(v, 96))


def test_session_vwap_resets_at_utc_midnight(real: pd.DataFrame) -> None:
    candles = _candles(real)[0]
    got = session_vwap(candles)
    tp = (real["high"] + real["low"] + real["close"]) / 3.0
    day = real.index.floor("D")
    want = (tp * real["volume"]).groupby(day).cumsum() / real["volume"].groupby(day).cumsum()
    first_day = day == day[0]  # the sample starts at 19:40: its first session is partial -> NaN
    assert np.isnan(got[first_day]).all()
    np.testing.assert_allclose(got[~first_day], want.to_numpy()[~first_day], rtol=1e-12)
    assert session_vwap(candles, last_only=True)[0] == got[-1]  # live shortcut is bit-identical


def test_rising_series_votes_bullish_trend_and_overbought_oscillators() -> None:
    s = compute_series(_trend(growth=0.01), StrategyParams(**NO_HTF)).iloc[-1]
    for name in ("ema", "sma", "macd", "adx", "obv", "sar", "roc", "keltner", "vwap"):
        assert s[name] == 1.0, name
    for name in ("rsi", "cci", "willr", "mfi"):
        assert s[name] == -1.0, name  # mean-reversion oscillators call an extended rally overbought
    assert -1.0 < s["bbands"] < -0.5  # near (not beyond) the upper band: graded
    assert s["volume"] == 0.0  # flat volume confirms nothing


def test_falling_series_mirrors_rising() -> None:
    p = StrategyParams(**NO_HTF)
    rising = _trend(growth=0.01)
    pivot = 2.0 * rising["high"].max()  # reflect every price: moves keep their size, flip direction
    falling = rising.assign(open=pivot - rising["open"], high=pivot - rising["low"], low=pivot - rising["high"],
                            close=pivot - rising["close"])
    up = compute_series(rising, p).iloc[-1]
    down = compute_series(falling, p).iloc[-1]
    for name in ("ema", "sma", "macd", "adx", "obv", "sar", "roc", "keltner", "vwap", "rsi", "cci", "willr", "mfi"):
        assert up[name] != 0.0 and np.sign(down[name]) == -np.sign(up[name]), name
    for name in ("ema", "sma", "macd", "adx", "obv", "sar", "rsi", "willr", "mfi"):
        assert down[name] == -up[name], name


def test_ema_alignment_half_vote_when_close_lags() -> None:
    df = _trend(growth=0.01)
    df.iloc[-1, df.columns.get_loc("close")] = df["close"].iloc[-2] * 0.92  # dip under the fast EMA
    sig = compute_signal("T", df, StrategyParams(**NO_HTF))
    ema = sig.vote("ema")
    assert ema is not None and ema.vote == 0.5 and ema.value is not None and ema.value > 0


def test_band_rules_follow_formula(real: pd.DataFrame) -> None:
    p = StrategyParams()
    series = compute_series(real, p)
    candles = _candles(real)[0]
    raw = compute_raw(candles, p)
    for name, key, low, high in (("rsi", "rsi", 30, 70), ("cci", "cci", -100, 100), ("willr", "willr", -80, -20),
                                 ("mfi", "mfi", 20, 80), ("stochrsi", "stochrsi_k", 20, 80)):
        x = raw[key]
        ok = np.isfinite(x)
        want = np.clip(1.0 - 2.0 * (x[ok] - low) / (high - low), -1.0, 1.0)
        np.testing.assert_allclose(series[name].to_numpy()[ok], want, rtol=0, atol=1e-12, err_msg=name)
        assert (series[name].to_numpy()[~ok] == 0.0).all()
    atr = raw["atr"]
    ok = np.isfinite(raw["vwap"]) & np.isfinite(atr)
    want = np.clip((raw["close"] - raw["vwap"])[ok] / atr[ok], -1, 1)
    np.testing.assert_allclose(series["vwap"].to_numpy()[ok], want, atol=1e-12)
    adx = raw["adx"]
    ok = np.isfinite(adx)
    want = np.sign(raw["plus_di"] - raw["minus_di"])[ok] * np.clip((adx[ok] - 20) / 20, 0, 1)
    np.testing.assert_allclose(series["adx"].to_numpy()[ok], want, atol=1e-12)
    assert set(np.unique(series["macd"])) <= {-1.0, -0.5, 0.0, 0.5, 1.0}
    assert set(np.unique(series["ema"])) <= {-1.0, -0.5, 0.0, 0.5, 1.0}


def test_patterns_vote_is_clipped_sum_of_directions(real: pd.DataFrame) -> None:
    p = StrategyParams()
    series = compute_series(real, p)
    o, c = real["open"].to_numpy(), real["close"].to_numpy()
    args = [real[k].to_numpy(np.float64) for k in ("open", "high", "low", "close")]
    total = np.zeros(len(real))
    for name in p.patterns.patterns:
        function, direction = PATTERNS[name]
        hit = getattr(talib, function)(*args)
        if direction == 0:
            total += np.sign(hit)
        elif direction == "doji":
            total += np.where(hit != 0, -np.sign(np.r_[np.nan, (c - o)[:-1]]), 0.0)
        else:
            total += (hit != 0) * direction
    lookback = max(pattern_lookback(PATTERNS[n][0]) for n in p.patterns.patterns)
    want = np.clip(total, -1, 1)
    want[:lookback] = 0.0
    np.testing.assert_array_equal(series["patterns"].to_numpy(), want)
    assert (series["patterns"] != 0).sum() > 50  # the real sample has plenty of patterns


def test_bullish_engulfing_and_doji_on_hand_made_bars() -> None:
    n = 30
    c = 100.0 - 0.3 * np.arange(n)  # a gentle downtrend of small red bars
    o = c + 0.2
    o[-2], c[-2] = 92.0, 91.5  # small red bar
    o[-1], c[-1] = 91.3, 92.4  # big green bar engulfing it
    h, lo = np.maximum(o, c) + 0.05, np.minimum(o, c) - 0.05
    df = _frame(o, h, lo, c, np.full(n, 5.0))
    assert talib.CDLENGULFING(o, h, lo, c)[-1] > 0
    only = {"patterns": {"patterns": ["engulfing"]}, **NO_HTF}
    assert compute_signal("T", df, StrategyParams(**only)).vote("patterns").vote == 1.0
    o2, c2 = o.copy(), c.copy()
    o2[-2], c2[-2] = 91.3, 92.4  # green bar ...
    o2[-1], c2[-1] = 92.0, 92.0  # ... then a doji: indecision after a rise -> bearish
    h2, lo2 = np.maximum(o2, c2) + 0.3, np.minimum(o2, c2) - 0.3
    assert talib.CDLDOJI(o2, h2, lo2, c2)[-1] != 0
    doji = {"patterns": {"patterns": ["doji"]}, **NO_HTF}
    assert compute_signal("T", _frame(o2, h2, lo2, c2, np.full(n, 5.0)), StrategyParams(**doji)).vote(
        "patterns").vote == -1.0


def test_volume_confirms_bar_direction() -> None:
    df = _trend(n=60, growth=0.001)
    vol = df["volume"].to_numpy().copy()
    vol[-1] = 30.0  # 3x the average on a green bar -> full bullish vote (full_ratio = 2)
    df["volume"] = vol
    v = compute_signal("T", df, StrategyParams(**NO_HTF)).vote("volume")
    assert v is not None and v.vote == 1.0 and v.value == pytest.approx(3.0)
    df2 = df.copy()
    df2["volume"] = np.r_[vol[:-1], 15.0]  # 1.5x -> half vote
    assert compute_signal("T", df2, StrategyParams(**NO_HTF)).vote("volume").vote == pytest.approx(0.5)


def test_warm_up_abstains_with_note() -> None:
    df = _trend(n=30)
    sig = compute_signal("T", df, StrategyParams(**NO_HTF))
    by = {v.name: v for v in sig.breakdown}
    assert by["sma"].abstained and by["sma"].note == "warming up" and by["sma"].vote == 0.0
    assert by["sma"].value is None
    assert not by["ema"].abstained and by["ema"].note == ""
    assert by["macd"].abstained  # MACD(12, 26, 9) needs 34 bars
