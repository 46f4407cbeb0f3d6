"""On-balance volume: value OBV − SMA(OBV, period); vote its sign: volume flowing in is bullish."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import SMA, Raw, ta
from tradebot.strategy.indicator import Indicator, IndicatorParams, Inputs, Unit
from tradebot.strategy.votes import Ops, Result

OBV = ta("OBV")


class OBVParams(IndicatorParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)


def _compute(s: Inputs, p: OBVParams, raw: Raw) -> None:
    obv = OBV(s.candles.close, s.candles.volume)
    raw["obv"] = obv
    raw["obv_ma"] = SMA(obv, p.period)


def _vote(c: Ops, p: OBVParams) -> Result:
    diff = c.get("obv") - c.get("obv_ma")
    return diff, c.sign(diff), c.ok(diff)


INDICATOR = Indicator(name="obv", order=11, params=OBVParams, compute=_compute, vote=_vote,
                      label=lambda p: "OBV − its average", unit=Unit(" {base}", signed=True))
