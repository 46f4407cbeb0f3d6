"""Plain-words indicator readings for /signal: each value with its name, its unit and what the scale means."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradebot.strategy.params import StrategyParams
    from tradebot.strategy.signal import Vote


def plain(value: float, places: int | None = None, signed: bool = False) -> str:
    """A float in plain notation (never 1.059e+05): thousands separators; ``places`` by magnitude if None."""
    if places is None:
        size = abs(value)
        places = 2 if size >= 1 else 4 if size >= 0.01 else 8
    text = f"{value:,.{places}f}"
    if places > 2 and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.lstrip("-").strip("0.,") == "":
        text = text.lstrip("-")  # no "-0.00"
    return f"+{text}" if signed and value > 0 and text.strip("0.,") else text


def _price(v: float, quote: str) -> str:
    return f"{plain(v)} {quote}"


def _signed_price(v: float, quote: str) -> str:
    return f"{plain(v, signed=True)} {quote}"


def interval_label(interval: str) -> str:
    """Bybit interval → what a trader writes: 15 → 15m, 60 → 1h, 240 → 4h, D → 1D."""
    if interval.isdigit():
        minutes = int(interval)
        return f"{minutes // 60}h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes}m"
    return f"1{interval.upper()}"


def _labels(p: StrategyParams | None, base: str) -> dict[str, tuple[str, Callable[[float], str]]]:
    q = "USDT"

    def period(name: str, attr: str = "period", fmt: str = "{}") -> str:
        sub = getattr(p, name, None) if p is not None else None
        return fmt.format(getattr(sub, attr)) if sub is not None else ""

    ema_names = (f"EMA {p.ema.fast} − EMA {p.ema.slow}" if p is not None else "fast EMA − slow EMA")
    return {
        "ema": (ema_names, lambda v: _signed_price(v, q)),
        "sma": (f"SMA {period('sma')}".strip(), lambda v: _price(v, q)),
        "rsi": (f"RSI {period('rsi')}".strip(), lambda v: f"{plain(v, 1)} (0–100)"),
        "stochrsi": ("StochRSI %K", lambda v: f"{plain(v, 1)} (0–100)"),
        "macd": ("MACD histogram", lambda v: _signed_price(v, q)),
        "bbands": ("Bollinger %B", lambda v: f"{plain(v, 2)} (0 = lower band, 1 = upper band)"),
        "adx": (f"ADX {period('adx')}".strip(), lambda v: f"{plain(v, 1)} (trend strength, 0–100)"),
        "cci": (f"CCI {period('cci')}".strip(), lambda v: plain(v, 1, signed=True)),
        "willr": ("Williams %R", lambda v: f"{plain(v, 1)} (−100 to 0)"),
        "mfi": (f"MFI {period('mfi')}".strip(), lambda v: f"{plain(v, 1)} (0–100)"),
        "obv": ("OBV − its average", lambda v: f"{plain(v, signed=True)} {base}"),
        "sar": ("Parabolic SAR", lambda v: _price(v, q)),
        "roc": (f"Rate of change over {period('roc')} candles" if p is not None else "Rate of change",
                lambda v: f"{plain(v, 2, signed=True)} %"),
        "keltner": ("Keltner position", lambda v: f"{plain(v, 2, signed=True)} (−1 lower, +1 upper channel)"),
        "patterns": ("Candle patterns", lambda v: f"{plain(v, 0, signed=True)} (sum of pattern directions)"),
        "vwap": ("VWAP", lambda v: _price(v, q)),
        "volume": ("Volume", lambda v: f"{plain(v, 2)}× its average"),
        "orderbook": ("Order-book imbalance", lambda v: f"{plain(v * 100, 1, signed=True)} % (bids − asks)"),
    }


def _htf(name: str, p: StrategyParams | None) -> tuple[str, Callable[[float], str]]:
    interval = name.removeprefix("htf_")
    method = next((h.method for h in (p.higher_timeframes if p is not None else []) if h.interval == interval), "")
    what = "close vs SMA" if method == "sma" else "EMA slope"
    return f"{interval_label(interval)} trend ({what})", lambda v: f"{plain(v, 2, signed=True)} %"


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def reading(v: Vote, symbol: str, params: StrategyParams | None = None) -> str:
    """``name: value unit`` for one vote (HTML-escaped); the bare name when it has no value."""
    labels = _labels(params, symbol.removesuffix("USDT") or symbol)
    label, fmt = _htf(v.name, params) if v.name.startswith("htf_") else labels.get(v.name, (v.name, plain))
    if v.value is None or not math.isfinite(v.value):
        return esc(label)
    return f"{esc(label)} = {esc(fmt(v.value))}"
