"""What one indicator is: its parameters, its computation, its vote rule and how /signal names its value.

Every indicator is one :class:`Indicator` object in its own module under ``tradebot/strategy/indicators/``;
everything that used to list indicators by name (the ``[strategy]`` model's tables, the order of the score,
the computation and vote tables, the /signal labels) is derived from those objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tradebot.strategy.arrays import Candles, Raw
from tradebot.strategy.votes import Ops, Result


class ParamsModel(BaseModel):
    """A validated settings table: frozen, unknown keys are errors (typos fail loudly), defaults checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class IndicatorParams(ParamsModel):
    """Common switch and weight of a voting indicator (every ``[strategy.<name>]`` table has them)."""

    enabled: bool = True
    weight: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)


P = TypeVar("P", bound=IndicatorParams)


@dataclass(frozen=True, slots=True)
class Inputs:
    """What an indicator's computation reads besides its own parameters: the candles, the strategy's ATR
    (``[strategy] atr_period``, computed once) and whether this is the live one-bar run (only the last
    element of an array is read then)."""

    candles: Candles
    atr: np.ndarray
    atr_period: int
    live: bool


@dataclass(frozen=True, slots=True)
class Unit:
    """How /signal writes an indicator's value: the number in plain notation (``places`` decimals, chosen
    by magnitude when None; a + sign when ``signed``), then ``text``, where ``{quote}`` and ``{base}``
    name the symbol's coins: ``Unit(" {quote}")`` reads "105,900.00 USDT"."""

    text: str = ""
    places: int | None = None
    signed: bool = False


PRICE = Unit(" {quote}")
PRICE_DIFFERENCE = Unit(" {quote}", signed=True)


@dataclass(frozen=True, slots=True)
class Indicator(Generic[P]):
    """One voting indicator, whole.

    ``name``: its ``[strategy.<name>]`` table, its vote in the breakdown and its module's name.
    ``order``: its place in the score sum and the breakdown (unique; a new indicator takes the next number).
    ``params``: its settings model (``enabled`` and ``weight`` plus its own, with defaults and rules).
    ``compute``: adds the raw arrays its vote reads to the table it is given (TA-Lib or numpy over the
    candles, NaN while warming up), under names no other indicator uses (``open``, ``close`` and ``atr``
    are there already). It writes into the table rather than returning one: a dict per indicator and the
    merge cost the live one-bar path more than 1 %.
    ``vote``: its rule, written once against :data:`~tradebot.strategy.votes.Ops` so the vectorised run
    over every bar and the live one-bar run agree bit for bit; returns (value shown, vote, valid).
    ``label``: what /signal calls its value, given its parameters (None: a breakdown read without them).
    ``unit``: how /signal writes that value.
    """

    name: str
    order: int
    params: type[P]
    compute: Callable[[Inputs, P, Raw], None]
    vote: Callable[[Ops, P], Result]
    label: Callable[[P | None], str]
    unit: Unit

    def of(self, strategy: object) -> P:
        """This indicator's table in ``strategy`` (a ``StrategyParams``)."""
        params: P = getattr(strategy, self.name)
        return params
