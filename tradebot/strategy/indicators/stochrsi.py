"""Stochastic RSI: value STOCHRSI fast %K; vote band(%K, low=20, high=80)."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import Indicator, Inputs, Unit
from tradebot.strategy.indicators._band import BandParams, band_rule

STOCHRSI = ta("STOCHRSI")


class StochRSIParams(BandParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(14, ge=2, le=1000)
    fastk: int = Field(14, ge=1, le=1000)
    fastd: int = Field(3, ge=1, le=1000)
    low: float = Field(20.0, ge=0.0, le=100.0)
    high: float = Field(80.0, ge=0.0, le=100.0)


def _compute(s: Inputs, p: StochRSIParams, raw: Raw) -> None:
    raw["stochrsi_k"] = STOCHRSI(s.candles.close, p.period, p.fastk, p.fastd, 0)[0]


INDICATOR = Indicator(name="stochrsi", order=4, params=StochRSIParams, compute=_compute,
                      vote=band_rule("stochrsi_k"), label=lambda p: "StochRSI %K",
                      unit=Unit(" (0–100)", places=1))
