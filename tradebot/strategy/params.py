"""Validated strategy configuration (``[strategy]`` TOML table): threshold, indicators, HTF, order book.

The indicator tables are not written here: each indicator's module brings its own
(``tradebot/strategy/indicators/``), and :class:`StrategyParams` gets one field per indicator, in score
order, from the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, create_model, model_validator

from tradebot.strategy.indicator import ParamsModel
from tradebot.strategy.indicators import INDICATORS, Enabled, enabled
from tradebot.strategy.indicators.patterns import PATTERNS

if TYPE_CHECKING:
    from tradebot.strategy.indicators.bbands import BBandsParams
    from tradebot.strategy.indicators.ema import EMAParams

__all__ = ["INDICATOR_NAMES", "PATTERNS", "HTFParams", "Interval", "OrderBookParams", "StrategyParams",
           "interval_rule"]


def interval_rule(*allowed: str) -> BeforeValidator:
    """Accept an interval as the README writes it: a number of minutes (15) or text ("15", "d" → "D")."""

    def check(value: Any) -> Any:
        text = str(value).strip().upper() if isinstance(value, int | str) and not isinstance(value, bool) else None
        if text not in allowed:
            minutes = " ".join(a for a in allowed if a.isdigit())
            letters = " or ".join(a for a in allowed if not a.isdigit())
            raise ValueError(f"must be one of {minutes} (minutes, a number or a string) or {letters}")
        return text

    return BeforeValidator(check)


Interval = Annotated[Literal["1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M"],
                     interval_rule("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")]


class HTFParams(ParamsModel):
    """One higher timeframe: trend by EMA slope or by close vs SMA, sideways inside ``flat_pct``."""

    interval: Interval
    weight: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)
    method: Literal["ema_slope", "sma"] = "ema_slope"
    period: int = Field(20, ge=2, le=1000)
    flat_pct: float = Field(0.05, ge=0.0, le=100.0, allow_inf_nan=False)


class OrderBookParams(ParamsModel):
    enabled: bool = True
    weight: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)
    depth: int = Field(20, ge=1, le=500)
    full_imbalance: float = Field(0.5, gt=0.0, le=1.0, description="imbalance that earns a full vote")


def _default_htf() -> list[HTFParams]:
    return [
        HTFParams(interval="60", weight=1.0, method="ema_slope", period=20, flat_pct=0.02),
        HTFParams(interval="240", weight=1.0, method="ema_slope", period=20, flat_pct=0.05),
        HTFParams(interval="D", weight=1.0, method="sma", period=20, flat_pct=0.5),
    ]


class _Core(ParamsModel):
    threshold: float = Field(6.0, gt=0.0, le=1000.0, allow_inf_nan=False)
    atr_period: int = Field(14, ge=1, le=1000)


if TYPE_CHECKING:
    class _Indicators(_Core):
        """What mypy sees of the tables made at run time below: only those read by attribute outside the
        strategy (the chart draws the EMAs and the Bollinger Bands). The strategy reads every indicator's
        table through ``Indicator.of``, typed by that indicator's own model."""

        ema: EMAParams = EMAParams()
        bbands: BBandsParams = BBandsParams()
else:
    # one field per indicator, in score order, each defaulting to its model's defaults
    _Indicators = create_model("_Indicators", __base__=_Core, __module__=__name__,
                               **{i.name: (i.params, i.params()) for i in INDICATORS})


class StrategyParams(_Indicators):
    """Everything the signal engine reads; unknown keys are errors (typos fail loudly).

    Score = Σ weight × vote over the enabled indicators, each higher timeframe and the order book; BUY
    when score ≥ ``threshold``, SELL when score ≤ -``threshold``, else HOLD. Every vote is clipped to
    [-1, 1] and an indicator without enough history abstains (vote 0, note "warming up").

    Fields: ``threshold`` (default 6.0 of a 15.5 total), ``atr_period`` (14), then one table per indicator
    in score order (``ema``, ``sma``, ... : :data:`INDICATOR_NAMES`; each module under
    ``tradebot/strategy/indicators/`` documents its value and vote rule, and its model its defaults), then
    ``higher_timeframes`` (60/240 by EMA-20 slope and D by close vs SMA 20, at 1.0 each) and ``orderbook``
    (1.0, 20 levels, full at 0.5 imbalance).

    "band(x, low, high)" means ``clip(1 - 2·(x - low)/(high - low), -1, 1)``: +1 at/below ``low``, -1
    at/above ``high``, linear in between (oscillators vote mean reversion; trend indicators vote with it).

    Higher timeframe (``htf_<interval>``): +1 up, -1 down, 0 sideways, where ``ema_slope`` measures the
    % change of EMA(period) over the last closed HTF candle and ``sma`` the % distance of its close from
    SMA(period); sideways while |value| ≤ flat_pct. Order book: imbalance = (bid size - ask size) /
    (bid size + ask size) over the best ``depth`` levels, vote = clip(imbalance / full_imbalance).
    """

    higher_timeframes: list[HTFParams] = Field(default_factory=_default_htf, max_length=8)
    orderbook: OrderBookParams = OrderBookParams()

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        intervals = [h.interval for h in self.higher_timeframes]
        if len(set(intervals)) != len(intervals):
            raise ValueError(f"higher_timeframes repeats an interval: {intervals}")
        total = self.total_weight()
        if self.threshold > total:
            raise ValueError(
                f"threshold ({self.threshold}) exceeds the total enabled weight ({total}): no signal could fire"
            )
        return self

    def enabled(self) -> Enabled:
        """Enabled per-bar indicators with their tables, in score order."""
        return enabled(self)

    def total_weight(self) -> float:
        """Σ weights of everything that can vote: the score always lies in [-total, +total]."""
        total = sum(sub.weight for _, sub in enabled(self))
        total += sum(h.weight for h in self.higher_timeframes)
        return total + (self.orderbook.weight if self.orderbook.enabled else 0.0)


INDICATOR_NAMES: tuple[str, ...] = tuple(i.name for i in INDICATORS)
