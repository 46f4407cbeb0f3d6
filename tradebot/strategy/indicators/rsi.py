"""RSI(period); vote band(RSI, low=30, high=70): oversold is bullish."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import Indicator, Inputs, Unit
from tradebot.strategy.indicators._band import BandParams, band_rule

RSI = ta("RSI")


class RSIParams(BandParams):
    weight: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(14, ge=2, le=1000)
    low: float = Field(30.0, ge=0.0, le=100.0)
    high: float = Field(70.0, ge=0.0, le=100.0)


def _compute(s: Inputs, p: RSIParams, raw: Raw) -> None:
    raw["rsi"] = RSI(s.candles.close, p.period)


def _label(p: RSIParams | None) -> str:
    return f"RSI {p.period}" if p is not None else "RSI"


INDICATOR = Indicator(name="rsi", order=3, params=RSIParams, compute=_compute, vote=band_rule("rsi"),
                      label=_label, unit=Unit(" (0–100)", places=1))
