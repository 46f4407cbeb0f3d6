"""The oscillators' shared shape: ``low``/``high`` levels and the band vote (+1 at/below ``low``, -1 at/above
``high``, linear in between: oversold is bullish)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from pydantic import Field, model_validator

from tradebot.strategy.indicator import IndicatorParams
from tradebot.strategy.votes import Ops, Result, band


class BandParams(IndicatorParams):
    """Oscillator voting +1 at/below ``low``, -1 at/above ``high``, linear in between."""

    low: float = Field(allow_inf_nan=False)
    high: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _low_below_high(self) -> Self:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


def band_rule(key: str) -> Callable[[Ops, BandParams], Result]:
    """The vote ``band(raw[key], low, high)``, showing the raw value."""

    def rule(c: Ops, p: BandParams) -> Result:
        x = c.get(key)
        return x, band(c, x, p.low, p.high), c.ok(x)

    return rule
