"""Plain-words indicator readings for /signal: each value with its name, its unit and what the scale means."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from tradebot.strategy.indicator import Indicator
from tradebot.strategy.indicators import BY_NAME

if TYPE_CHECKING:
    from tradebot.strategy.params import StrategyParams
    from tradebot.strategy.signal import Vote

QUOTE = "USDT"  # every symbol the bot trades is a USDT perpetual


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


def interval_label(interval: str) -> str:
    """Bybit interval → what a trader writes: 15 → 15m, 60 → 1h, 240 → 4h, D → 1D."""
    if interval.isdigit():
        minutes = int(interval)
        return f"{minutes // 60}h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes}m"
    return f"1{interval.upper()}"


def _value_text(indicator: Indicator[Any], value: float, symbol: str) -> str:
    unit = indicator.unit
    coins = unit.text.format(quote=QUOTE, base=symbol.removesuffix(QUOTE) or symbol)
    return f"{plain(value, unit.places, unit.signed)}{coins}"


def _orderbook(value: float) -> str:
    return f"{plain(value * 100, 1, signed=True)} % (bids − asks)"


def _htf(name: str, p: StrategyParams | None) -> tuple[str, Callable[[float], str]]:
    interval = name.removeprefix("htf_")
    method = next((h.method for h in (p.higher_timeframes if p is not None else []) if h.interval == interval), "")
    what = "close vs SMA" if method == "sma" else "EMA slope"
    return f"{interval_label(interval)} trend ({what})", lambda v: f"{plain(v, 2, signed=True)} %"


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def reading(v: Vote, symbol: str, params: StrategyParams | None = None) -> str:
    """``name: value unit`` for one vote (HTML-escaped); the bare name when it has no value.

    An indicator's name and unit come from its object (``tradebot/strategy/indicators/``); a name no
    indicator has any more (a signal journaled by an older version) is shown as it was stored."""
    indicator = BY_NAME.get(v.name)
    fmt: Callable[[float], str]
    if indicator is not None:
        label = indicator.label(indicator.of(params) if params is not None else None)
        fmt = partial(_value_text, indicator, symbol=symbol)
    elif v.name.startswith("htf_"):
        label, fmt = _htf(v.name, params)
    elif v.name == "orderbook":
        label, fmt = "Order-book imbalance", _orderbook
    else:
        label, fmt = v.name, plain
    if v.value is None or not math.isfinite(v.value):
        return esc(label)
    return f"{esc(label)} = {esc(fmt(v.value))}"
