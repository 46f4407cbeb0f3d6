"""Vote rules, written once and run vectorised (every bar) or on one bar (live), bit-identically."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tradebot.strategy.indicators import Raw, pattern_lookback
from tradebot.strategy.params import PATTERNS

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


def _ema(c: Ops, p: Any) -> Result:
    f, s, x = c.get("ema_fast"), c.get("ema_slow"), c.get("close")
    vote = c.where(f > s, c.where(x > f, 1.0, 0.5), c.where(f < s, c.where(x < f, -1.0, -0.5), 0.0))
    return f - s, vote, c.ok(f, s)


def _sma(c: Ops, p: Any) -> Result:
    s = c.get("sma")
    return s, c.sign(c.get("close") - s), c.ok(s)


def _band_rule(key: str) -> Callable[[Ops, Any], Result]:
    def rule(c: Ops, p: Any) -> Result:
        x = c.get(key)
        return x, band(c, x, p.low, p.high), c.ok(x)

    return rule


def _macd(c: Ops, p: Any) -> Result:
    m, hist = c.get("macd"), c.get("macd_hist")
    return hist, 0.5 * c.sign(m) + 0.5 * c.sign(hist), c.ok(m, hist)


def _bbands(c: Ops, p: Any) -> Result:
    up, lo, x = c.get("bb_upper"), c.get("bb_lower"), c.get("close")
    width = up - lo
    pct_b = c.where(width > 0.0, c.div(x - lo, width), 0.5)
    return pct_b, band(c, pct_b, 0.0, 1.0), c.ok(up, lo)


def _adx(c: Ops, p: Any) -> Result:
    adx, pdi, mdi = c.get("adx"), c.get("plus_di"), c.get("minus_di")
    strength = c.clip((adx - p.min_adx) / (p.strong_adx - p.min_adx), 0.0, 1.0)
    return adx, c.sign(pdi - mdi) * strength, c.ok(adx, pdi, mdi)


def _obv(c: Ops, p: Any) -> Result:
    diff = c.get("obv") - c.get("obv_ma")
    return diff, c.sign(diff), c.ok(diff)


def _sar(c: Ops, p: Any) -> Result:
    s = c.get("sar")
    return s, c.sign(c.get("close") - s), c.ok(s)


def _roc(c: Ops, p: Any) -> Result:
    r = c.get("roc")
    return r, c.clip(r / p.full_pct, -1.0, 1.0), c.ok(r)


def _keltner(c: Ops, p: Any) -> Result:
    mid, atr = c.get("kc_middle"), c.get("kc_atr")
    pos = c.div(c.get("close") - mid, p.multiplier * atr)
    return pos, c.clip(pos, -1.0, 1.0), c.ok(mid, atr)


def _patterns(c: Ops, p: Any) -> Result:
    total: Any = 0.0
    lookback = 0
    for name in p.patterns:
        function, direction = PATTERNS[name]
        lookback = max(lookback, pattern_lookback(function))
        hit = c.get("cdl_" + name)
        if direction == 0:
            total = total + c.sign(hit)
        elif direction == "doji":
            total = total + c.where(hit != 0.0, -c.sign(c.prev("close") - c.prev("open")), 0.0)
        else:
            total = total + c.where(hit != 0.0, float(direction), 0.0)
    return total, c.clip(total, -1.0, 1.0), c.index() >= lookback


def _vwap(c: Ops, p: Any) -> Result:
    vwap, atr = c.get("vwap"), c.get("atr")
    return vwap, c.clip(c.div(c.get("close") - vwap, p.atr_scale * atr), -1.0, 1.0), c.ok(vwap, atr)


def _volume(c: Ops, p: Any) -> Result:
    rel = c.div(c.get("volume"), c.prev("volume_ma"))
    strength = c.clip((rel - 1.0) / (p.full_ratio - 1.0), 0.0, 1.0)
    return rel, c.sign(c.get("close") - c.get("open")) * strength, c.ok(rel)


# The documented table of these rules is in the StrategyParams docstring (tradebot/strategy/params.py).
RULES: dict[str, Callable[[Ops, Any], Result]] = {
    "ema": _ema,
    "sma": _sma,
    "rsi": _band_rule("rsi"),
    "stochrsi": _band_rule("stochrsi_k"),
    "macd": _macd,
    "bbands": _bbands,
    "adx": _adx,
    "cci": _band_rule("cci"),
    "willr": _band_rule("willr"),
    "mfi": _band_rule("mfi"),
    "obv": _obv,
    "sar": _sar,
    "roc": _roc,
    "keltner": _keltner,
    "patterns": _patterns,
    "vwap": _vwap,
    "volume": _volume,
}


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
