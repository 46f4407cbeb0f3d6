"""Candle patterns: value Σ pattern directions on the evaluated bar; vote clip(Σ, -1, 1).

Engulfing, harami and morning/evening star use TA-Lib's sign; hammer +1, shooting star -1 ... (see
``PATTERNS``); a doji votes against the previous bar's body. The vote abstains until every chosen pattern's
TA-Lib lookback is covered."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Literal, Self

from pydantic import model_validator
from talib import abstract

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import Indicator, IndicatorParams, Inputs, Unit
from tradebot.strategy.votes import Ops, Result

# name -> (TA-Lib function, direction); direction 0 means "use the sign TA-Lib returns",
# "doji" means "against the previous bar's body" (indecision after a move hints at a reversal).
PATTERNS: dict[str, tuple[str, int | str]] = {
    "engulfing": ("CDLENGULFING", 0),
    "harami": ("CDLHARAMI", 0),
    "hammer": ("CDLHAMMER", 1),
    "inverted_hammer": ("CDLINVERTEDHAMMER", 1),
    "hanging_man": ("CDLHANGINGMAN", -1),
    "shooting_star": ("CDLSHOOTINGSTAR", -1),
    "morning_star": ("CDLMORNINGSTAR", 1),
    "evening_star": ("CDLEVENINGSTAR", -1),
    "three_white_soldiers": ("CDL3WHITESOLDIERS", 1),
    "three_black_crows": ("CDL3BLACKCROWS", -1),
    "dragonfly_doji": ("CDLDRAGONFLYDOJI", 1),
    "gravestone_doji": ("CDLGRAVESTONEDOJI", -1),
    "doji": ("CDLDOJI", "doji"),
}
PatternName = Literal[
    "engulfing", "harami", "hammer", "inverted_hammer", "hanging_man", "shooting_star", "morning_star",
    "evening_star", "three_white_soldiers", "three_black_crows", "dragonfly_doji", "gravestone_doji", "doji",
]
CDL: dict[str, Callable[..., Any]] = {name: ta(function) for name, (function, _) in PATTERNS.items()}


@cache
def pattern_lookback(function: str) -> int:
    """Bars TA-Lib needs before a CDL function can report a pattern (its output is 0, not NaN, before)."""
    return int(abstract.Function(function).lookback)  # type: ignore[attr-defined]  # TA-Lib 0.8.2's abstract.pyi omits Function


class PatternParams(IndicatorParams):
    patterns: tuple[PatternName, ...] = (
        "engulfing", "hammer", "shooting_star", "morning_star", "evening_star", "doji",
    )

    @model_validator(mode="after")
    def _some_unique(self) -> Self:
        if len(set(self.patterns)) != len(self.patterns):
            raise ValueError("patterns must not repeat")
        if self.enabled and not self.patterns:
            raise ValueError("patterns is empty: list at least one or set enabled = false")
        return self


def _compute(s: Inputs, p: PatternParams, raw: Raw) -> None:
    c = s.candles
    for name in p.patterns:
        raw["cdl_" + name] = CDL[name](c.open, c.high, c.low, c.close)


def _vote(c: Ops, p: PatternParams) -> Result:
    total: Any = 0.0
    lookback = 0
    for name in p.patterns:
        function, direction = PATTERNS[name]
        lookback = max(lookback, pattern_lookback(function))
        hit = c.get("cdl_" + name)
        if direction == 0:
            total = total + c.sign(hit)
        elif direction == "doji":
            total = total + c.where(hit != 0.0, -c.sign(c.prev("close") - c.prev("open")), 0.0)
        else:
            total = total + c.where(hit != 0.0, float(direction), 0.0)
    return total, c.clip(total, -1.0, 1.0), c.index() >= lookback


INDICATOR = Indicator(name="patterns", order=15, params=PatternParams, compute=_compute, vote=_vote,
                      label=lambda p: "Candle patterns",
                      unit=Unit(" (sum of pattern directions)", places=0, signed=True))
