"""Trend filter: value SMA(period); vote sign(close − SMA): +1 above, -1 below."""

from __future__ import annotations

from pydantic import Field

from tradebot.strategy.arrays import SMA, Raw
from tradebot.strategy.indicator import PRICE, Indicator, IndicatorParams, Inputs
from tradebot.strategy.votes import Ops, Result


class SMAParams(IndicatorParams):
    period: int = Field(200, ge=2, le=5000)


def _compute(s: Inputs, p: SMAParams, raw: Raw) -> None:
    raw["sma"] = SMA(s.candles.close, p.period)


def _vote(c: Ops, p: SMAParams) -> Result:
    s = c.get("sma")
    return s, c.sign(c.get("close") - s), c.ok(s)


def _label(p: SMAParams | None) -> str:
    return f"SMA {p.period}" if p is not None else "SMA"


INDICATOR = Indicator(name="sma", order=2, params=SMAParams, compute=_compute, vote=_vote, label=_label,
                      unit=PRICE)
