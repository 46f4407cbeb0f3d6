"""Rate of change: value ROC(period) in %; vote clip(ROC / full_pct, -1, 1): momentum."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import Raw, ta
from tradebot.strategy.indicator import Indicator, IndicatorParams, Inputs, Unit
from tradebot.strategy.votes import Ops, Result

ROC = ta("ROC")


class ROCParams(IndicatorParams):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(10, ge=1, le=1000)
    full_pct: float = Field(1.0, gt=0.0, le=100.0, description="ROC (%) that earns a full vote")


def _compute(s: Inputs, p: ROCParams, raw: Raw) -> None:
    raw["roc"] = ROC(s.candles.close, p.period)


def _vote(c: Ops, p: ROCParams) -> Result:
    r = c.get("roc")
    return r, c.clip(r / p.full_pct, -1.0, 1.0), c.ok(r)


def _label(p: ROCParams | None) -> str:
    return f"Rate of change over {p.period} candles" if p is not None else "Rate of change"


INDICATOR = Indicator(name="roc", order=13, params=ROCParams, compute=_compute, vote=_vote, label=_label,
                      unit=Unit(" %", places=2, signed=True))
