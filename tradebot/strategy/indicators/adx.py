"""ADX: value ADX(period); vote sign(+DI − −DI) · clip((ADX − min_adx)/(strong_adx − min_adx), 0, 1): no vote
in a trendless market."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import Indicator, IndicatorParams, Inputs, Unit
from tradebot.strategy.votes import Ops, Result

ADX, MINUS_DI, PLUS_DI = ta("ADX"), ta("MINUS_DI"), ta("PLUS_DI")


class ADXParams(IndicatorParams):
    period: int = Field(14, ge=2, le=1000)
    min_adx: float = Field(20.0, ge=0.0, lt=100.0)
    strong_adx: float = Field(40.0, gt=0.0, le=100.0)

    @model_validator(mode="after")
    def _min_below_strong(self) -> Self:
        if not self.min_adx < self.strong_adx:
            raise ValueError(f"min_adx ({self.min_adx}) must be below strong_adx ({self.strong_adx})")
        return self


def _compute(s: Inputs, p: ADXParams, raw: Raw) -> None:
    h, lo, cl = s.candles.high, s.candles.low, s.candles.close
    raw["adx"] = ADX(h, lo, cl, p.period)
    raw["plus_di"] = PLUS_DI(h, lo, cl, p.period)
    raw["minus_di"] = MINUS_DI(h, lo, cl, p.period)


def _vote(c: Ops, p: ADXParams) -> Result:
    adx, pdi, mdi = c.get("adx"), c.get("plus_di"), c.get("minus_di")
    strength = c.clip((adx - p.min_adx) / (p.strong_adx - p.min_adx), 0.0, 1.0)
    return adx, c.sign(pdi - mdi) * strength, c.ok(adx, pdi, mdi)


def _label(p: ADXParams | None) -> str:
    return f"ADX {p.period}" if p is not None else "ADX"


INDICATOR = Indicator(name="adx", order=7, params=ADXParams, compute=_compute, vote=_vote, label=_label,
                      unit=Unit(" (trend strength, 0–100)", places=1))
