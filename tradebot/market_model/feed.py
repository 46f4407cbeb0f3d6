"""Price feeds (candle replay or seeded random walk), the candle path rule and kline resampling."""

from __future__ import annotations

import bisect
import csv
import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

BASE_MS = 300_000  # the feed's base candle interval (5m)
DAY_MS = 86_400_000
FUNDING_MS = 8 * 3_600_000  # funding settles every 8 h of market time
MINUTE_INTERVALS = {"1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "60": 60, "120": 120, "240": 240,
                    "360": 360, "720": 720}
INTERVALS = (*MINUTE_INTERVALS, "D", "W", "M")
_MONDAY_MS = 4 * DAY_MS  # 1970-01-05 00:00 UTC, the first Monday: Bybit weeks start on Monday


@dataclass(slots=True)
class Candle:
    """One OHLCV candle; ``start`` is the open time in epoch ms."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def row(self) -> list[str]:
        return [str(self.start), str(self.open), str(self.high), str(self.low), str(self.close),
                str(self.volume), str((self.volume * self.close).quantize(Decimal("0.0001")))]


def candle_path(open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> tuple[Decimal, ...]:
    """Intra-candle price path: bullish/flat (close >= open) open→low→high→close, bearish open→high→low→close."""
    return (open_, low, high, close) if close >= open_ else (open_, high, low, close)


def load_candles(source: Any) -> list[Candle]:
    """Candles from a CSV path (timestamp_ms,open,high,low,close,volume), a DataFrame or a list of rows/dicts."""
    if isinstance(source, str | Path):
        with open(source, newline="") as fh:
            rows: list[Any] = list(csv.DictReader(fh))
    elif hasattr(source, "to_dict"):
        rows = source.to_dict("records")
    else:
        rows = list(source)
    out = []
    for r in rows:
        if isinstance(r, dict):
            ts = r.get("timestamp_ms", r.get("timestamp", r.get("start")))
            if ts is None:
                raise TypeError(f"candle row without timestamp_ms, timestamp or start: {r}")
            vals = [r["open"], r["high"], r["low"], r["close"], r.get("volume", 0)]
        else:
            ts, vals = r[0], list(r[1:6]) + [0] * (6 - len(r))
        out.append(Candle(int(float(ts)), *(Decimal(str(v)) for v in vals[:5])))
    out.sort(key=lambda c: c.start)
    return out


class SymbolFeed:
    """One symbol's market: closed candles, the forming candle, the last price and its path position.

    Replay mode walks the given candles; otherwise a seeded random walk generates them (infinitely).
    The forming candle has "reached its open"; :meth:`advance` walks the rest of its path and opens the next.
    """

    def __init__(self, symbol: str, tick: Decimal, *, candles: list[Candle] | None = None,
                 price: Decimal | None = None, seed: int = 0, start_ms: int = 0, warmup: int = 0,
                 history: int = 1000, volatility: float = 0.002) -> None:
        self.symbol, self.tick, self.volatility = symbol, tick, volatility
        self._rng = random.Random(int(hashlib.sha256(f"{seed}:{symbol}".encode()).hexdigest()[:16], 16))
        self.data = candles
        self.closed: list[Candle] = []
        self.point = 0  # index of the current point on the forming candle's path (0 = open)
        self.offset_ms = 0  # market time spent at the current point (advance_ms); reset when the path moves on
        if candles is not None:
            if not candles:
                raise ValueError(f"{symbol}: no candles")
            self.index = min(warmup, len(candles) - 1)
            self.closed = [Candle(c.start, c.open, c.high, c.low, c.close, c.volume)
                           for c in candles[:self.index]]
            self.target = candles[self.index]
        else:
            self.index = 0
            open_ = self._round(price if price is not None else Decimal("60000"))
            self.closed = self._backfill(open_, start_ms, history)
            self.target = self._generate(start_ms, open_)
        t = self.target
        self.forming = Candle(t.start, t.open, t.open, t.open, t.open, Decimal(0))
        self.last = t.open

    # -- random walk -------------------------------------------------------------------------------
    def _round(self, price: Decimal) -> Decimal:
        return max(self.tick, (price / self.tick).to_integral_value() * self.tick)

    def _candle_from(self, start: int, open_: Decimal, close: Decimal) -> Candle:
        sigma = self.volatility
        hi = max(open_, close) * Decimal(str(1 + abs(self._rng.gauss(0, sigma / 2))))
        lo = min(open_, close) * Decimal(str(1 - abs(self._rng.gauss(0, sigma / 2))))
        vol = Decimal(str(round(abs(self._rng.gauss(100, 40)) + 1, 3)))
        return Candle(start, open_, self._round(hi), self._round(lo), close, vol)

    def _generate(self, start: int, open_: Decimal) -> Candle:
        close = self._round(open_ * Decimal(str(math.exp(self._rng.gauss(0, self.volatility)))))
        return self._candle_from(start, open_, close)

    def _backfill(self, open_: Decimal, start_ms: int, n: int) -> list[Candle]:
        out: list[Candle] = []
        close = open_
        for k in range(1, n + 1):
            o = self._round(close * Decimal(str(math.exp(-self._rng.gauss(0, self.volatility)))))
            out.append(self._candle_from(start_ms - k * BASE_MS, o, close))
            close = o
        out.reverse()
        return out

    # -- stepping ----------------------------------------------------------------------------------
    @property
    def interval_ms(self) -> int:
        if self.data is not None and len(self.data) > 1:
            return self.data[1].start - self.data[0].start
        return BASE_MS

    def has_next(self) -> bool:
        return self.data is None or self.index + 1 < len(self.data)

    def remaining_path(self) -> list[tuple[int, Decimal, int]]:
        """The (point index, price, market time) left on the forming candle's path, ending at its close."""
        t = self.target
        path = candle_path(t.open, t.high, t.low, t.close)
        times = self.path_times()
        return [(i, path[i], times[i]) for i in range(self.point + 1, 4)]

    def move(self, price: Decimal, point: int | None = None) -> None:
        """Record the last price moving to ``price`` inside the forming candle."""
        self.last = price
        f = self.forming
        f.high, f.low, f.close = max(f.high, price), min(f.low, price), price
        if point is not None:
            self.point = point

    def open_next(self) -> Candle:
        """Close the forming candle and open the next one; returns the new forming candle."""
        f = self.forming
        f.volume = self.target.volume
        self.closed.append(f)
        if self.data is not None:
            self.index += 1
            self.target = self.data[self.index]
        else:
            self.index += 1
            self.target = self._generate(f.start + BASE_MS, f.close)
        t = self.target
        self.forming = Candle(t.start, t.open, t.open, t.open, t.open, Decimal(0))
        self.point, self.offset_ms = 0, 0
        self.last = t.open
        return self.forming

    def at_point(self, point: int) -> None:
        """The path reached point ``point`` of the forming candle (its own time; no time spent there yet)."""
        self.point, self.offset_ms = point, 0

    def advance_ms(self, ms: int) -> None:
        """Let ``ms`` of market time pass at the current path point, never reaching the next point's time."""
        times = self.path_times()
        nxt = times[self.point + 1] if self.point < 3 else self.forming.start + self.interval_ms
        self.offset_ms = min(self.offset_ms + ms, nxt - 1 - times[self.point])

    def time_ms(self) -> int:
        """Market time of the current path point (plus the time spent there, :meth:`advance_ms`)."""
        return self.path_times()[self.point] + self.offset_ms

    def path_times(self) -> list[int]:
        """Market times of the four path points: open, first extreme, second extreme, close."""
        s, step = self.forming.start, self.interval_ms // 3
        return [s, s + step, s + 2 * step, s + self.interval_ms - 1]

    # -- klines ------------------------------------------------------------------------------------
    def klines(self, interval: str, start: int | None, end: int | None, limit: int) -> list[list[str]]:
        """Kline rows newest first, resampled from the base candles plus the forming candle."""
        base = self.interval_ms
        if interval in MINUTE_INTERVALS:
            ival = MINUTE_INTERVALS[interval] * 60_000
            if ival < base or ival % base:
                raise ValueError(f"interval {interval} is finer than the feed's base candles")
            ratio = ival // base
        else:
            ratio = {"D": DAY_MS, "W": 7 * DAY_MS, "M": 31 * DAY_MS}[interval] // base
        candles = self.closed
        starts = _Starts(candles)
        hi = len(candles) if end is None else bisect.bisect_right(starts, end)
        if start is not None and end is None:
            lo = bisect.bisect_left(starts, _bucket(start, interval))
            hi = min(len(candles), lo + (limit + 1) * ratio)
        else:
            lo = max(0, hi - (limit + 1) * ratio)
            if start is not None:
                lo = max(lo, bisect.bisect_left(starts, _bucket(start, interval)))
        window = candles[lo:hi]
        if hi == len(candles) and (end is None or self.forming.start <= end):
            window = [*window, self.forming]
        buckets: list[Candle] = []
        for c in window:
            b = _bucket(c.start, interval)
            if buckets and buckets[-1].start == b:
                agg = buckets[-1]
                agg.high, agg.low = max(agg.high, c.high), min(agg.low, c.low)
                agg.close, agg.volume = c.close, agg.volume + c.volume
            else:
                buckets.append(Candle(b, c.open, c.high, c.low, c.close, c.volume))
        if start is not None:
            buckets = [b for b in buckets if b.start >= start]
        if end is not None:
            buckets = [b for b in buckets if b.start <= end]
        chosen = buckets[:limit] if (start is not None and end is None) else buckets[-limit:]
        return [b.row() for b in reversed(chosen)]


class _Starts:
    """Sequence view of candle start times for bisect."""

    def __init__(self, candles: list[Candle]) -> None:
        self._c = candles

    def __len__(self) -> int:
        return len(self._c)

    def __getitem__(self, i: int) -> int:
        return self._c[i].start


def _bucket(ts: int, interval: str) -> int:
    if interval in MINUTE_INTERVALS:
        ival = MINUTE_INTERVALS[interval] * 60_000
        return ts - ts % ival
    if interval == "D":
        return ts - ts % DAY_MS
    if interval == "W":
        return ts - (ts - _MONDAY_MS) % (7 * DAY_MS)
    d = datetime.fromtimestamp(ts / 1000, tz=UTC)
    return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)
