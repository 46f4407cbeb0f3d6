"""/signal wording: every indicator value in plain notation, with its name and unit (never 1.059e+05)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from handlers.render.formatting import signal_block
from handlers.render.readings import interval_label, plain, reading
from tradebot.market import load_csv, resample
from tradebot.strategy.engine import compute_signal
from tradebot.strategy.params import StrategyParams
from tradebot.strategy.signal import Vote

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "BTCUSDT_5m.csv"


def test_every_indicator_reads_with_name_value_and_unit() -> None:
    df, _ = load_csv(SAMPLE)
    params = StrategyParams.model_validate({"higher_timeframes": [{"interval": "60"}, {"interval": "240"}]})
    htf = {"60": resample(df, "60"), "240": resample(df, "240")}
    book = {"bids": [["106000", "5"]], "asks": [["106001", "3"]]}
    sig = compute_signal("BTCUSDT", df, params, book=book, htf=htf)
    text = signal_block(sig, detail=True, params=params)
    assert "e+" not in text and "e-" not in text and "[" not in text
    expected = {
        "ema": r"EMA 9 − EMA 21 = [+-][\d,]+\.\d\d USDT", "sma": r"SMA 200 = \d{2,3},\d{3}\.\d\d USDT",
        "rsi": r"RSI 14 = \d+\.\d \(0–100\)", "stochrsi": r"StochRSI %K = \d+\.\d \(0–100\)",
        "macd": r"MACD histogram = [+-]?[\d,]+\.\d\d USDT", "bbands": r"Bollinger %B = -?\d+\.\d\d \(0 = lower band",
        "adx": r"ADX 14 = \d+\.\d \(trend strength", "cci": r"CCI 20 = [+-]?\d+\.\d",
        "willr": r"Williams %R = -?\d+\.\d \(−100 to 0\)", "mfi": r"MFI 14 = \d+\.\d \(0–100\)",
        "obv": r"OBV − its average = [+-]?[\d,.]+ BTC", "sar": r"Parabolic SAR = [\d,]+\.\d\d USDT",
        "roc": r"Rate of change over 10 candles = [+-]?\d+\.\d\d %", "keltner": r"Keltner position = [+-]?\d\.\d\d",
        "patterns": r"Candle patterns = [+-]?\d \(sum", "vwap": r"VWAP = [\d,]+\.\d\d USDT",
        "volume": r"Volume = \d+\.\d\d× its average", "htf_60": r"1h trend \(EMA slope\) = [+-]?\d+\.\d\d %",
        "htf_240": r"4h trend \(EMA slope\) = [+-]?\d+\.\d\d %",
        "orderbook": r"Order-book imbalance = \+25\.0 % \(bids − asks\)",
    }
    assert {v.name for v in sig.breakdown} == set(expected)
    for name, pattern in expected.items():
        assert re.search(r"• " + pattern + r"[^\n]* → ", text), (name, text)
    assert "-0.00" not in text
    assert "close 107,562.8 USDT" in text or re.search(r"close [\d,.]+ USDT · ATR [\d,.]+ USDT", text)


def test_abstaining_vote_has_no_value() -> None:
    v = Vote("sma", None, 0.0, 1.0, 0.0, True, "warming up")
    assert reading(v, "BTCUSDT") == "SMA"
    assert reading(Vote("sma", 1.059e5, 1.0, 1.0, 1.0, False), "BTCUSDT") == "SMA = 105,900.00 USDT"


def test_interval_labels() -> None:
    assert [interval_label(i) for i in ("1", "15", "60", "120", "240", "720", "D")] == \
        ["1m", "15m", "1h", "2h", "4h", "12h", "1D"]


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_plain_never_uses_exponents(x: float) -> None:
    text = plain(x)
    assert "e" not in text and "E" not in text and text != "-0"
