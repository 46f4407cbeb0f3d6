"""Keltner channel: value (close − EMA)/(multiplier·ATR); vote that value clipped to [-1, 1]: +1 at/above the
upper channel."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import ATR, EMA, Raw
from tradebot.strategy.indicator import Indicator, IndicatorParams, Inputs, Unit
from tradebot.strategy.votes import Ops, Result


class KeltnerParams(IndicatorParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)
    atr_period: int = Field(10, ge=1, le=1000)
    multiplier: float = Field(2.0, gt=0.0, le=10.0)


def _compute(s: Inputs, p: KeltnerParams, raw: Raw) -> None:
    c = s.candles
    atr = s.atr if p.atr_period == s.atr_period else ATR(c.high, c.low, c.close, p.atr_period)
    raw["kc_middle"] = EMA(c.close, p.period)
    raw["kc_atr"] = atr


def _vote(c: Ops, p: KeltnerParams) -> Result:
    mid, atr = c.get("kc_middle"), c.get("kc_atr")
    pos = c.div(c.get("close") - mid, p.multiplier * atr)
    return pos, c.clip(pos, -1.0, 1.0), c.ok(mid, atr)


INDICATOR = Indicator(name="keltner", order=14, params=KeltnerParams, compute=_compute, vote=_vote,
                      label=lambda p: "Keltner position",
                      unit=Unit(" (−1 lower, +1 upper channel)", places=2, signed=True))
