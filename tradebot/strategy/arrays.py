"""The arrays every indicator reads: contiguous float64 candles, the raw-array table, TA-Lib handles."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import talib

Raw = dict[str, np.ndarray]


def ta(name: str) -> Callable[..., Any]:
    """TA-Lib function ``name`` minus talib's pandas/polars Series-detection wrapper (``functools.wraps``
    keeps the C-backed function in ``__wrapped__``): we always pass float64 ndarrays, so the check is
    pure overhead (about 1 µs a call). Results are identical to ``talib.<name>``."""
    function: Callable[..., Any] = inspect.unwrap(getattr(talib, name))
    return function


# the TA-Lib calls more than one part makes (the strategy's ATR, channel middles, trend averages)
ATR, EMA, SMA = ta("ATR"), ta("EMA"), ta("SMA")


@dataclass(frozen=True, slots=True)
class Candles:
    """Contiguous float64 OHLCV arrays (no NaN rows) plus bar open times in epoch ms."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    ts_ms: np.ndarray

    def __len__(self) -> int:
        return int(self.close.shape[0])
