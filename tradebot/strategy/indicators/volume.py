"""Relative volume: value vol / SMA(vol, period) of the previous bars; vote sign(close − open) ·
clip((rel − 1)/(full_ratio − 1), 0, 1): a big-volume bar confirms its direction."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import SMA, Raw
from tradebot.strategy.indicator import Indicator, IndicatorParams, Inputs, Unit
from tradebot.strategy.votes import Ops, Result


class VolumeParams(IndicatorParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)
    full_ratio: float = Field(2.0, gt=1.0, le=100.0, description="relative volume that earns a full vote")


def _compute(s: Inputs, p: VolumeParams, raw: Raw) -> None:
    v = s.candles.volume
    raw["volume"] = v
    raw["volume_ma"] = SMA(v, p.period)


def _vote(c: Ops, p: VolumeParams) -> Result:
    rel = c.div(c.get("volume"), c.prev("volume_ma"))
    strength = c.clip((rel - 1.0) / (p.full_ratio - 1.0), 0.0, 1.0)
    return rel, c.sign(c.get("close") - c.get("open")) * strength, c.ok(rel)


INDICATOR = Indicator(name="volume", order=17, params=VolumeParams, compute=_compute, vote=_vote,
                      label=lambda p: "Volume", unit=Unit("× its average", places=2))
