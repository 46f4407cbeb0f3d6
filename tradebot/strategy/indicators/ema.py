"""EMA alignment: value EMA(fast) − EMA(slow); close > fast > slow: +1, fast > slow otherwise: +0.5;
close < fast < slow: -1, fast < slow otherwise: -0.5."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from tradebot.strategy.arrays import EMA, Raw
from tradebot.strategy.indicator import PRICE_DIFFERENCE, Indicator, IndicatorParams, Inputs
from tradebot.strategy.votes import Ops, Result


class EMAParams(IndicatorParams):
    fast: int = Field(9, ge=2, le=1000)
    slow: int = Field(21, ge=2, le=1000)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if not self.fast < self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


def _compute(s: Inputs, p: EMAParams, raw: Raw) -> None:
    close = s.candles.close
    raw["ema_fast"] = EMA(close, p.fast)
    raw["ema_slow"] = EMA(close, p.slow)


def _vote(c: Ops, p: EMAParams) -> Result:
    f, s, x = c.get("ema_fast"), c.get("ema_slow"), c.get("close")
    vote = c.where(f > s, c.where(x > f, 1.0, 0.5), c.where(f < s, c.where(x < f, -1.0, -0.5), 0.0))
    return f - s, vote, c.ok(f, s)


def _label(p: EMAParams | None) -> str:
    return f"EMA {p.fast} − EMA {p.slow}" if p is not None else "fast EMA − slow EMA"


INDICATOR = Indicator(name="ema", order=1, params=EMAParams, compute=_compute, vote=_vote, label=_label,
                      unit=PRICE_DIFFERENCE)
