"""Williams %R: value %R(period) (−100..0); vote band(%R, low=-80, high=-20)."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import Indicator, Inputs, Unit
from tradebot.strategy.indicators._band import BandParams, band_rule

WILLR = ta("WILLR")


class WillRParams(BandParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(14, ge=2, le=1000)
    low: float = Field(-80.0, ge=-100.0, le=0.0)
    high: float = Field(-20.0, ge=-100.0, le=0.0)


def _compute(s: Inputs, p: WillRParams, raw: Raw) -> None:
    raw["willr"] = WILLR(s.candles.high, s.candles.low, s.candles.close, p.period)


INDICATOR = Indicator(name="willr", order=9, params=WillRParams, compute=_compute, vote=band_rule("willr"),
                      label=lambda p: "Williams %R", unit=Unit(" (−100 to 0)", places=1))
