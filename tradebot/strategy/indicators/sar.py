"""Parabolic SAR: value the SAR; vote sign(close − SAR)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import PRICE, Indicator, IndicatorParams, Inputs
from tradebot.strategy.votes import Ops, Result

SAR = ta("SAR")


class SARParams(IndicatorParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    acceleration: float = Field(0.02, gt=0.0, le=1.0)
    maximum: float = Field(0.2, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _acc_le_max(self) -> Self:
        if self.acceleration > self.maximum:
            raise ValueError(f"acceleration ({self.acceleration}) must not exceed maximum ({self.maximum})")
        return self


def _compute(s: Inputs, p: SARParams, raw: Raw) -> None:
    raw["sar"] = SAR(s.candles.high, s.candles.low, p.acceleration, p.maximum)


def _vote(c: Ops, p: SARParams) -> Result:
    s = c.get("sar")
    return s, c.sign(c.get("close") - s), c.ok(s)


INDICATOR = Indicator(name="sar", order=12, params=SARParams, compute=_compute, vote=_vote,
                      label=lambda p: "Parabolic SAR", unit=PRICE)
