"""MACD: value the histogram; vote 0.5·sign(MACD line) + 0.5·sign(histogram)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import PRICE_DIFFERENCE, Indicator, IndicatorParams, Inputs
from tradebot.strategy.votes import Ops, Result

MACD = ta("MACD")


class MACDParams(IndicatorParams):
    fast: int = Field(12, ge=2, le=1000)
    slow: int = Field(26, ge=2, le=1000)
    signal: int = Field(9, ge=1, le=1000)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if not self.fast < self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


def _compute(s: Inputs, p: MACDParams, raw: Raw) -> None:
    macd, _, hist = MACD(s.candles.close, p.fast, p.slow, p.signal)
    raw["macd"] = macd
    raw["macd_hist"] = hist


def _vote(c: Ops, p: MACDParams) -> Result:
    m, hist = c.get("macd"), c.get("macd_hist")
    return hist, 0.5 * c.sign(m) + 0.5 * c.sign(hist), c.ok(m, hist)


INDICATOR = Indicator(name="macd", order=5, params=MACDParams, compute=_compute, vote=_vote,
                      label=lambda p: "MACD histogram", unit=PRICE_DIFFERENCE)
