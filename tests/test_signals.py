"""Signal engine: scoring, actions, warm-up/NaN safety, HTF without lookahead, order book, params, Signal."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import FrozenInstanceError
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tradebot.market import load_csv, resample
from tradebot.strategy import (
    Signal,
    StrategyParams,
    Vote,
    book_imbalance,
    compute_series,
    compute_signal,
    decide,
    vote_columns,
)
from tradebot.strategy.params import HTFParams

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample" / "BTCUSDT_5m.csv"
EXAMPLE = ROOT / "config.example.toml"  # the one documented [strategy] (tests/test_indicator_registry.py)
HTF = ("60", "240", "D")


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return load_csv(SAMPLE)[0]


@pytest.fixture(scope="module")
def real_htf(real: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {iv: resample(real, iv) for iv in HTF}


def _book(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> dict[str, list]:
    return {"bids": bids, "asks": asks}


def _frame(close: np.ndarray, start: str = "2025-06-02", freq: str = "5min") -> pd.DataFrame:
    index = pd.date_range(start, periods=len(close), freq=freq, tz="UTC", name="time")
    o = np.r_[close[0], close[:-1]]
    return pd.DataFrame({"open": o, "high": np.maximum(o, close) + 0.5, "low": np.minimum(o, close) - 0.5,
                         "close": close, "volume": np.full(len(close), 10.0)}, index=index)


# --- scoring and actions ---------------------------------------------------------------------------

def test_score_is_weighted_sum_of_votes(real: pd.DataFrame, real_htf: dict[str, pd.DataFrame]) -> None:
    p = StrategyParams()
    s = compute_series(real, p, real_htf)
    weights = {v.name: v.weight for v in compute_signal("X", real, p, htf=real_htf).breakdown}
    assert list(s.columns) == ["score", "action", "atr", *vote_columns(p)]
    total = sum(weights[name] * s[name].to_numpy() for name in vote_columns(p))
    np.testing.assert_allclose(s["score"].to_numpy(), total, atol=1e-12)
    assert s["score"].abs().max() <= p.total_weight()
    for name in vote_columns(p):
        assert s[name].between(-1, 1).all(), name
    assert {"BUY", "SELL", "HOLD"} == set(s["action"])


def test_actions_follow_threshold(real: pd.DataFrame) -> None:
    p = StrategyParams()
    s = compute_series(real, p)
    score, action = s["score"].to_numpy(), s["action"].to_numpy()
    assert (action[score >= p.threshold] == "BUY").all()
    assert (action[score <= -p.threshold] == "SELL").all()
    assert (action[np.abs(score) < p.threshold] == "HOLD").all()
    assert decide(6.0, 6.0) == "BUY" and decide(-6.0, 6.0) == "SELL"
    assert decide(math.nextafter(6.0, 0), 6.0) == "HOLD" and decide(math.nextafter(-6.0, 0), 6.0) == "HOLD"


def test_compute_actions_are_the_series_action_and_atr(real: pd.DataFrame,
                                                        real_htf: dict[str, pd.DataFrame]) -> None:
    """The backtest's frame-free path gives compute_series's action (as +1/-1/0) and ATR columns exactly."""
    from tradebot.strategy.engine import compute_actions

    p = StrategyParams()
    s = compute_series(real, p, real_htf)
    sig, atr = compute_actions(real, p, real_htf)
    want = np.select([s["action"].to_numpy() == "BUY", s["action"].to_numpy() == "SELL"], [1, -1], 0)
    assert sig.dtype == np.int8 and np.array_equal(sig, want) and {-1, 0, 1} == set(sig.tolist())
    assert np.array_equal(atr, s["atr"].to_numpy())


def test_exactly_at_threshold_in_series_and_live() -> None:
    # only the SMA trend filter votes (weight 2, vote +1 above the SMA) -> score exactly 2.0 = threshold
    off = {"enabled": False}
    names = ("ema", "rsi", "stochrsi", "macd", "bbands", "adx", "cci", "willr", "mfi", "obv", "sar", "roc",
             "keltner", "patterns", "vwap", "volume", "orderbook")
    p = StrategyParams(threshold=2.0, higher_timeframes=[], sma={"period": 5, "weight": 2.0},
                       **{n: off for n in names})
    df = _frame(np.linspace(100, 120, 30))
    assert compute_series(df, p)["action"].iloc[-1] == "BUY"
    sig = compute_signal("X", df, p)
    assert sig.score == 2.0 == sig.threshold and sig.action == "BUY"
    sell = compute_signal("X", _frame(np.linspace(120, 100, 30)), p)
    assert sell.score == -2.0 and sell.action == "SELL"


# --- live == vectorised ---------------------------------------------------------------------------

@pytest.mark.parametrize("bars", [1, 2, 5, 40, 250, 1000, 4000])
def test_live_equals_vectorised_last_bar(real: pd.DataFrame, bars: int) -> None:
    p = StrategyParams()
    df = real.iloc[:bars]
    htf = {iv: resample(df, iv) for iv in HTF}
    book = _book([(100.0, 2.0), (99.0, 1.0)], [(101.0, 1.0)])
    sig = compute_signal("BTCUSDT", df, p, book=book, htf=htf)
    row = compute_series(df, p, htf, book=book).iloc[-1]
    assert sig.score == row["score"] and sig.action == row["action"]
    assert float(sig.atr) == row["atr"]
    assert sig.time == df.index[-1].to_pydatetime() and sig.price == Decimal(repr(float(df["close"].iloc[-1])))
    for v in sig.breakdown:
        assert v.vote == row[v.name], v.name
        assert v.contribution == v.weight * v.vote
    assert sig.score == pytest.approx(sum(v.contribution for v in sig.breakdown), abs=1e-12)


def test_live_equals_vectorised_at_many_cut_points(real: pd.DataFrame) -> None:
    p = StrategyParams(vwap={"mode": "rolling", "window": 48})
    for end in range(300, 4000, 97):
        df = real.iloc[end - 300 : end]
        sig = compute_signal("X", df, p)
        assert sig.score == compute_series(df, p)["score"].iloc[-1]


# --- warm-up, NaN and gaps -----------------------------------------------------------------------

def test_short_and_gappy_data_never_nan(real: pd.DataFrame) -> None:
    p = StrategyParams()
    for n in (1, 2, 5):
        s = compute_series(real.iloc[:n], p)
        assert s["score"].notna().all() and (s["action"] == "HOLD").all()
        sig = compute_signal("X", real.iloc[:n], p)
        assert math.isfinite(sig.score) and sig.atr == Decimal("0")
        live = {v.name for v in sig.breakdown if not v.abstained}
        assert live <= {"sar"}  # Parabolic SAR needs just one earlier bar; everything else is warming up
        assert all(v.note == "warming up" for v in sig.breakdown if v.abstained and v.name in vote_columns(p)[:17])
    rng = np.random.default_rng(7)
    gappy = real.iloc[np.sort(rng.choice(len(real), 2500, replace=False))].copy()
    cols = gappy.columns
    for k in rng.choice(len(gappy), 40, replace=False):
        gappy.iloc[k, cols.get_loc(str(rng.choice(["open", "high", "low", "close", "volume"])))] = np.nan
    s = compute_series(gappy, p, {iv: resample(real, iv) for iv in HTF})
    assert s["score"].notna().all() and np.isfinite(s["atr"]).all()
    bad = gappy[["open", "high", "low", "close"]].isna().any(axis=1).to_numpy()
    assert (s["score"].to_numpy()[bad] == 0).all() and (s["action"].to_numpy()[bad] == "HOLD").all()
    good_last = gappy[~bad]
    assert compute_signal("X", good_last, p).score == compute_series(good_last, p)["score"].iloc[-1]


def test_invalid_last_candle_holds() -> None:
    df = _frame(np.linspace(100, 120, 60))
    df.iloc[-1, df.columns.get_loc("close")] = np.nan
    sig = compute_signal("X", df, StrategyParams())
    assert sig.action == "HOLD" and sig.score == 0.0
    assert all(v.abstained and v.note == "invalid candle" for v in sig.breakdown)
    assert compute_series(df, StrategyParams())["score"].iloc[-1] == 0.0


def test_bad_inputs_raise() -> None:
    df = _frame(np.linspace(100, 120, 10))
    with pytest.raises(ValueError, match="at least one"):
        compute_signal("X", df.iloc[:0], StrategyParams())
    with pytest.raises(ValueError, match="increasing"):
        compute_series(df.iloc[::-1], StrategyParams())
    with pytest.raises(ValueError, match="volume"):
        compute_series(df.drop(columns="volume"), StrategyParams())


# --- higher timeframes --------------------------------------------------------------------------

def _htf_only(method: str = "ema_slope", **kw: object) -> StrategyParams:
    off = {"enabled": False}
    names = ("ema", "sma", "rsi", "stochrsi", "macd", "bbands", "adx", "cci", "willr", "mfi", "obv", "sar", "roc",
             "keltner", "patterns", "vwap", "volume", "orderbook")
    htf = [{"interval": "60", "weight": 2.0, "method": method, "period": 5, "flat_pct": 0.1}]
    return StrategyParams(threshold=1.0, higher_timeframes=htf, **{n: off for n in names}, **kw)


@pytest.mark.parametrize("method", ["ema_slope", "sma"])
def test_htf_trend_votes(method: str) -> None:
    base = _frame(np.full(24, 100.0), start="2025-06-03 00:00")
    p = _htf_only(method)
    cases = {"up": np.linspace(90, 100, 30), "down": np.linspace(110, 100, 30), "sideways": np.full(30, 100.0)}
    for trend, closes in cases.items():
        hourly = _frame(closes, start="2025-06-01 18:00", freq="60min")  # last candle closes 2025-06-03 00:00
        sig = compute_signal("X", base, p, htf={"60": hourly})
        v = sig.vote("htf_60")
        assert v is not None and v.note == trend and not v.abstained
        assert v.vote == {"up": 1.0, "down": -1.0, "sideways": 0.0}[trend]
        assert sig.score == 2.0 * v.vote
    missing = compute_signal("X", base, p, htf={}).vote("htf_60")
    assert missing is not None and missing.abstained and missing.note == "no 60 candles"


def test_htf_no_lookahead() -> None:
    base = _frame(100 + np.sin(np.arange(48) / 5.0), start="2025-06-03 00:00")  # 00:00 .. 03:55
    hourly = _frame(np.linspace(90, 100, 30), start="2025-06-02 01:00", freq="60min")  # ... 06-03 06:00
    p = _htf_only()
    s = compute_series(base, p, {"60": hourly})
    crashed = hourly.copy()
    crashed.loc[crashed.index >= "2025-06-03 02:00", "close"] = 10.0  # the candle opening 02:00 closes 03:00
    s2 = compute_series(base, p, {"60": crashed})
    bar_close = base.index + pd.Timedelta("5min")
    before = bar_close < pd.Timestamp("2025-06-03 03:00", tz="UTC")
    assert (s["htf_60"][before] == s2["htf_60"][before]).all() and (s2["htf_60"][before] == 1.0).all()
    # from the 02:55 bar (closing 03:00) the crashed candle is closed and known
    assert (s2["htf_60"][~before] == -1.0).all()
    assert s2.loc[pd.Timestamp("2025-06-03 02:50", tz="UTC"), "htf_60"] == 1.0
    assert s2.loc[pd.Timestamp("2025-06-03 02:55", tz="UTC"), "htf_60"] == -1.0
    for cut in (35, 36):  # live agrees at both sides of the boundary
        df = base.iloc[:cut]
        assert compute_signal("X", df, p, htf={"60": crashed}).vote("htf_60").vote == s2["htf_60"].iloc[cut - 1]


def test_htf_unclosed_candle_only_after_close(real: pd.DataFrame) -> None:
    # a still-forming HTF candle (resampled from partial data) must not be used by the live bar
    df = real.iloc[: 12 * 30 + 6]  # ends mid-hour
    p = _htf_only()
    hourly = resample(df, "60")
    assert not hourly["complete"].iloc[-1]
    before = compute_signal("X", df, p, htf={"60": hourly.iloc[:-1]})
    with_partial = compute_signal("X", df, p, htf={"60": hourly})
    assert before.vote("htf_60") == with_partial.vote("htf_60")


# --- order book ---------------------------------------------------------------------------------

def test_orderbook_imbalance_and_vote() -> None:
    book = _book([(100.0, 3.0), (99.0, 1.0), (98.0, 100.0)], [(101.0, 1.0), (102.0, 1.0)])
    assert book_imbalance(book, 2) == pytest.approx((4 - 2) / 6)
    shuffled = _book([(98.0, 100.0), (100.0, 3.0), (99.0, 1.0)], [(102.0, 1.0), (101.0, 1.0)])
    assert book_imbalance(shuffled, 2) == book_imbalance(book, 2)
    dec = SimpleNamespace(bids=[(Decimal("100"), Decimal("3"))], asks=[(Decimal("101"), Decimal("1"))])
    assert book_imbalance(dec, 5) == pytest.approx(0.5)
    assert book_imbalance(_book([], []), 5) is None
    p = StrategyParams(orderbook={"depth": 1, "full_imbalance": 0.5, "weight": 2.0})
    df = _frame(np.linspace(100, 110, 50))
    sig = compute_signal("X", df, p, book=dec)
    ob = sig.vote("orderbook")
    assert ob is not None and ob.vote == 1.0 and ob.contribution == 2.0 and ob.value == pytest.approx(0.5)
    weak = compute_signal("X", df, p, book=_book([(100.0, 1.2)], [(101.0, 1.0)])).vote("orderbook")
    assert weak.vote == pytest.approx((0.2 / 2.2) / 0.5)
    none = compute_signal("X", df, p).vote("orderbook")
    assert none.abstained and none.note == "no order book"
    empty = compute_signal("X", df, p, book=_book([], [])).vote("orderbook")
    assert empty.abstained and empty.note == "empty order book"
    s = compute_series(df, p, book=dec)
    assert s["orderbook"].iloc[-1] == 1.0 and (s["orderbook"].iloc[:-1] == 0).all()
    assert (compute_series(df, p)["orderbook"] == 0).all()


# --- Signal ------------------------------------------------------------------------------------

def test_signal_round_trip_and_top(real: pd.DataFrame, real_htf: dict[str, pd.DataFrame]) -> None:
    sig = compute_signal("BTCUSDT", real, StrategyParams(), htf=real_htf)
    d = json.loads(json.dumps(sig.to_dict()))
    back = Signal.from_dict(d)
    assert back == sig
    assert isinstance(back.price, Decimal) and back.time.tzinfo is not None
    top = sig.top(3)
    assert len(top) == 3 and all(isinstance(v, Vote) for v in top)
    biggest = sorted(abs(v.contribution) for v in sig.breakdown)[-3:]
    assert sorted(abs(v.contribution) for v in top) == biggest
    assert sig.top(0) == ()
    with pytest.raises(FrozenInstanceError):
        sig.score = 1.0  # type: ignore[misc]
    warm = Signal.from_dict(json.loads(json.dumps(compute_signal("X", real.iloc[:3], StrategyParams()).to_dict())))
    assert any(v.value is None for v in warm.breakdown)
    with pytest.raises(ValueError, match="action"):
        Signal.from_dict({**d, "action": "MAYBE"})


# --- params ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rsi": {"period": 1}}, "rsi.period"),
        ({"rsi": {"low": 80}}, "rsi"),
        ({"ema": {"fast": 30, "slow": 20}}, "ema"),
        ({"macd": {"weight": -1}}, "macd.weight"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": 99}, "threshold"),
        ({"atr_period": 0}, "atr_period"),
        ({"rsii": {}}, "rsii"),
        ({"rsi": {"perod": 14}}, "rsi.perod"),
        ({"higher_timeframes": [{"interval": "61"}]}, "higher_timeframes.0.interval"),
        ({"higher_timeframes": [{"interval": "60"}, {"interval": "60"}]}, "repeats"),
        ({"orderbook": {"depth": 0}}, "orderbook.depth"),
        ({"vwap": {"mode": "weekly"}}, "vwap.mode"),
        ({"patterns": {"patterns": ["hammerr"]}}, "patterns.patterns.0"),
    ],
)
def test_params_errors_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        StrategyParams(**kwargs)
    assert field in str(err.value)


def test_example_config_strategy_parses_to_defaults() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["strategy"]
    params = StrategyParams.model_validate(data)
    assert params == StrategyParams()
    assert set(data) == set(StrategyParams.model_fields)  # every key documented
    for name in StrategyParams.model_fields:
        sub = getattr(params, name)
        if isinstance(sub, BaseModel):
            assert set(data[name]) == set(type(sub).model_fields), name
    for table in data["higher_timeframes"]:
        assert set(table) == set(HTFParams.model_fields)
    assert params.total_weight() == 15.5 and params.threshold == 6.0


# --- property ----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.floats(-0.05, 0.05, allow_nan=False), min_size=1, max_size=300),
    wicks=st.floats(0.0, 0.03, allow_nan=False),
    zero_volume=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_score_bounded_and_finite_for_random_series(steps: list[float], wicks: float, zero_volume: bool,
                                                    seed: int) -> None:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(steps))
    df = _frame(close)
    df["high"] = df[["open", "close"]].max(axis=1) * (1 + wicks * rng.random(len(close)))
    df["low"] = df[["open", "close"]].min(axis=1) * (1 - wicks * rng.random(len(close)))
    df["volume"] = 0.0 if zero_volume else rng.random(len(close)) * 100
    p = StrategyParams()
    s = compute_series(df, p, {"60": resample(df, "60")})
    bound = p.total_weight() + 1e-9
    assert s["score"].notna().all() and (s["score"].abs() <= bound).all()
    sig = compute_signal("R", df, p, htf={"60": resample(df, "60")})
    assert math.isfinite(sig.score) and abs(sig.score) <= bound and sig.score == s["score"].iloc[-1]
