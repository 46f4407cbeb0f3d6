"""Vote arithmetic, written once and run vectorised (every bar) or on one bar (live), bit-identically.

A rule is written once against :data:`Ops` (``c.get``, ``c.clip``, ``c.where`` ...) and returns (value shown,
vote, valid); :class:`VecOps` runs it over whole arrays, :class:`ScalarOps` on one bar with the same
arithmetic. Each indicator's rule lives in its module (``tradebot/strategy/indicators/``); the shared shapes
(the band, the higher-timeframe trend) are here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tradebot.strategy.arrays import Raw

NAN = float("nan")


class VecOps:
    """Array backend: every bar at once (call inside ``np.errstate(all="ignore")``)."""

    def __init__(self, raw: Raw) -> None:
        self.raw = raw
        self.n = int(raw["close"].shape[0])

    def get(self, key: str) -> Any:
        return self.raw[key]

    def prev(self, key: str) -> Any:
        a = self.raw[key]
        out = np.empty(a.shape[0], dtype=np.float64)
        out[:1] = np.nan
        out[1:] = a[:-1]
        return out

    def index(self) -> Any:
        return np.arange(self.n)

    @staticmethod
    def clip(x: Any, lo: float, hi: float) -> Any:
        return np.minimum(np.maximum(x, lo), hi)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return np.where(cond, a, b)

    @staticmethod
    def sign(x: Any) -> Any:
        return np.sign(x)

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        return np.where(b != 0.0, a / np.where(b != 0.0, b, 1.0), np.nan)

    @staticmethod
    def ok(*xs: Any) -> Any:
        m = np.isfinite(xs[0])
        for x in xs[1:]:
            m = m & np.isfinite(x)
        return m

    @staticmethod
    def finish(vote: Any, ok: Any) -> tuple[Any, Any]:
        vote = np.broadcast_to(np.asarray(vote, dtype=np.float64), ok.shape)
        valid = ok & np.isfinite(vote)
        return np.where(valid, vote, 0.0), valid


class ScalarOps:
    """Scalar backend: one bar, with the same arithmetic (so results match the array backend).

    ``i`` indexes the raw arrays (-1 when they are live tails), ``bar`` is that bar's position in the
    history (for warm-up counts and for "is there a previous bar").
    """

    def __init__(self, raw: Raw, i: int, bar: int) -> None:
        self.raw = raw
        self.i = i
        self.bar = bar

    def get(self, key: str) -> Any:
        return self.raw[key].item(self.i)

    def prev(self, key: str) -> Any:
        return self.raw[key].item(self.i - 1) if self.bar >= 1 else NAN

    def index(self) -> Any:
        return self.bar

    @staticmethod
    def clip(x: Any, lo: float, hi: float) -> Any:
        return min(max(x, lo), hi)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def sign(x: Any) -> Any:
        return x if x != x else float((x > 0.0) - (x < 0.0))

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        return a / b if b != 0.0 else NAN

    @staticmethod
    def ok(*xs: Any) -> Any:
        for x in xs:
            if not math.isfinite(x):
                return False
        return True

    @staticmethod
    def finish(vote: Any, ok: Any) -> tuple[Any, Any]:
        valid = bool(ok) and math.isfinite(vote)
        return (float(vote) if valid else 0.0), valid


Ops = VecOps | ScalarOps
Result = tuple[Any, Any, Any]


def band(c: Ops, x: Any, low: float, high: float) -> Any:
    """+1 at/below ``low``, -1 at/above ``high``, linear in between."""
    return c.clip(1.0 - 2.0 * (x - low) / (high - low), -1.0, 1.0)


def trend_vote(c: Ops, method: str, flat_pct: float) -> Result:
    """Higher-timeframe trend from raw keys ``ma`` (EMA or SMA) and ``close``: +1 up, -1 down, 0 sideways.

    ``ema_slope``: value = % change of the EMA over the last HTF bar; ``sma``: value = % distance of the
    close from the SMA. Up when value > flat_pct, down when value < -flat_pct, else sideways.
    """
    ma = c.get("ma")
    base = c.prev("ma") if method == "ema_slope" else ma
    top = ma if method == "ema_slope" else c.get("close")
    value = c.div((top - base) * 100.0, base)
    vote = c.where(value > flat_pct, 1.0, c.where(value < -flat_pct, -1.0, 0.0))
    return value, vote, c.ok(value)
