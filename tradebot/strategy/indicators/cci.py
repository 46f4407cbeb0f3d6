"""Commodity Channel Index: value CCI(period); vote band(CCI, low=-100, high=100)."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import Indicator, Inputs, Unit
from tradebot.strategy.indicators._band import BandParams, band_rule

CCI = ta("CCI")


class CCIParams(BandParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)
    low: float = Field(-100.0, ge=-1000.0, le=1000.0)
    high: float = Field(100.0, ge=-1000.0, le=1000.0)


def _compute(s: Inputs, p: CCIParams, raw: Raw) -> None:
    raw["cci"] = CCI(s.candles.high, s.candles.low, s.candles.close, p.period)


def _label(p: CCIParams | None) -> str:
    return f"CCI {p.period}" if p is not None else "CCI"


INDICATOR = Indicator(name="cci", order=8, params=CCIParams, compute=_compute, vote=band_rule("cci"),
                      label=_label, unit=Unit(places=1, signed=True))
