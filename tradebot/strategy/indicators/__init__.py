"""Every indicator the strategy scores: one module each, and the registry found from them.

A public module here *is* an indicator: ``mfi.py`` defines ``INDICATOR``, an
:class:`~tradebot.strategy.indicator.Indicator` named ``"mfi"`` (its ``[strategy.mfi]`` table, its
computation, its vote rule and its /signal label); modules whose name starts with ``_`` are shared helpers.
:data:`INDICATORS` is found from the modules and ordered by each one's ``order``: ``StrategyParams``' tables,
:func:`compute_raw`, the engine's vote loop and the /signal readings all read it, so no other list of
indicators exists. ``tests/test_indicator_registry.py`` checks that the TOML files agree with it.
"""

from __future__ import annotations

import importlib
import pkgutil
from operator import attrgetter
from typing import Any, Protocol

from tradebot.strategy.arrays import ATR, Candles, Raw
from tradebot.strategy.indicator import Indicator, IndicatorParams, Inputs
from tradebot.strategy.indicators.patterns import pattern_lookback
from tradebot.strategy.indicators.vwap import rolling_vwap, session_vwap

__all__ = ["BY_NAME", "INDICATORS", "Enabled", "compute_raw", "enabled", "pattern_lookback", "rolling_vwap",
           "session_vwap"]


def _discover() -> tuple[Indicator[Any], ...]:
    found: list[Indicator[Any]] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        indicator = getattr(module, "INDICATOR", None)
        if not isinstance(indicator, Indicator):
            raise TypeError(f"{module.__name__} defines no INDICATOR: every module in {__name__} is one "
                            "indicator (shared helpers go in modules named _*.py)")
        if indicator.name != info.name:
            raise ValueError(f"{module.__name__}: INDICATOR is named {indicator.name!r}: "
                             "name the module after it")
        found.append(indicator)
    found.sort(key=attrgetter("order"))
    orders = [i.order for i in found]
    if len(set(orders)) != len(orders):
        raise ValueError(f"two indicators share an order: {[(i.name, i.order) for i in found]}")
    return tuple(found)


INDICATORS: tuple[Indicator[Any], ...] = _discover()
BY_NAME: dict[str, Indicator[Any]] = {i.name: i for i in INDICATORS}


Enabled = list[tuple[Indicator[Any], IndicatorParams]]


class Strategy(Protocol):
    """What :func:`compute_raw` reads of a ``StrategyParams``: the ATR period, and a table per indicator."""

    @property
    def atr_period(self) -> int: ...


def enabled(strategy: object) -> Enabled:
    """The enabled indicators of ``strategy`` (a ``StrategyParams``) with their tables, in score order."""
    tables = vars(strategy)  # what Indicator.of reads, without a call per indicator (the live path runs this)
    return [(indicator, table) for indicator in INDICATORS if (table := tables[indicator.name]).enabled]


def compute_raw(c: Candles, p: Strategy, live: bool = False, indicators: Enabled | None = None) -> Raw:
    """Every array the enabled vote rules read, keyed by name (NaN during each indicator's warm-up).

    TA-Lib always runs over the whole history (its recursions need it). ``live`` computes the numpy-only
    session VWAP for the last bar alone (a 1-element array): live rules read index -1 only.
    ``indicators``: ``enabled(p)`` when the caller has it already.
    """
    atr = ATR(c.high, c.low, c.close, p.atr_period)
    r: Raw = {"open": c.open, "close": c.close, "atr": atr}
    inputs = Inputs(c, atr, p.atr_period, live)
    for indicator, params in enabled(p) if indicators is None else indicators:
        indicator.compute(inputs, params, r)
    return r
