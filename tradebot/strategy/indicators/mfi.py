"""Money Flow Index: value MFI(period); vote band(MFI, low=20, high=80)."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import Indicator, Inputs, Unit
from tradebot.strategy.indicators._band import BandParams, band_rule

MFI = ta("MFI")


class MFIParams(BandParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(14, ge=2, le=1000)
    low: float = Field(20.0, ge=0.0, le=100.0)
    high: float = Field(80.0, ge=0.0, le=100.0)


def _compute(s: Inputs, p: MFIParams, raw: Raw) -> None:
    c = s.candles
    raw["mfi"] = MFI(c.high, c.low, c.close, c.volume, p.period)


def _label(p: MFIParams | None) -> str:
    return f"MFI {p.period}" if p is not None else "MFI"


INDICATOR = Indicator(name="mfi", order=10, params=MFIParams, compute=_compute, vote=band_rule("mfi"),
                      label=_label, unit=Unit(" (0–100)", places=1))
