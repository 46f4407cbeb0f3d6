"""Bollinger Bands: value %B = (close − lower)/(upper − lower); vote band(%B, 0, 1): at the lower band +1,
at the upper band -1."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import Indicator, IndicatorParams, Inputs, Unit
from tradebot.strategy.votes import Ops, Result, band

BBANDS = ta("BBANDS")


class BBandsParams(IndicatorParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)
    nbdev: float = Field(2.0, gt=0.0, le=10.0)


def _compute(s: Inputs, p: BBandsParams, raw: Raw) -> None:
    upper, _, lower = BBANDS(s.candles.close, p.period, p.nbdev, p.nbdev, 0)
    raw["bb_upper"] = upper
    raw["bb_lower"] = lower


def _vote(c: Ops, p: BBandsParams) -> Result:
    up, lo, x = c.get("bb_upper"), c.get("bb_lower"), c.get("close")
    width = up - lo
    pct_b = c.where(width > 0.0, c.div(x - lo, width), 0.5)
    return pct_b, band(c, pct_b, 0.0, 1.0), c.ok(up, lo)


INDICATOR = Indicator(name="bbands", order=6, params=BBandsParams, compute=_compute, vote=_vote,
                      label=lambda p: "Bollinger %B",
                      unit=Unit(" (0 = lower band, 1 = upper band)", places=2))
