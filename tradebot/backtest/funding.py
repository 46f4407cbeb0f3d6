"""Funding-rate history: download and CSV cache with the candles, and the charge a backtest position pays."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from tradebot.backtest.csvcache import read_rows, write_rows

if TYPE_CHECKING:  # the backtest itself never talks to Bybit: no httpx import on its path
    from tradebot.bybit.client import BybitClient

HEADER = ("timestamp_ms", "funding_rate")
PAGE = 200  # Bybit's maximum per request (market/history-fund-rate.mdx)


@dataclass(frozen=True)
class FundingReport:
    path: Path
    fetched: int  # new settlements written
    total: int  # settlements in the cache now
    requests: int


def funding_path(symbol: str, base: Path) -> Path:
    """``SYMBOL_funding.csv`` next to the symbol's candle files."""
    return base / f"{symbol}_funding.csv"


def read_funding(path: Path) -> dict[int, str]:
    """Cached settlements {time ms: rate as Bybit wrote it}; empty when the file does not exist."""
    return read_rows(path, (HEADER,), "funding cache", lambda r: r[1])


def load_funding(path: Path) -> list[tuple[int, Decimal]]:
    """Settlements oldest first as (time ms, rate)."""
    return [(t, Decimal(r)) for t, r in sorted(read_funding(path).items())]


def write_funding(path: Path, rows: dict[int, str]) -> None:
    write_rows(path, HEADER, ((t, rows[t]) for t in sorted(rows)))


async def fetch_funding(client: BybitClient, symbol: str, start_ms: int, end_ms: int) -> tuple[dict[int, str], int]:
    """Settlements in [start_ms, end_ms]: the newest page up to ``end_ms``, then backwards by endTime."""
    rows: dict[int, str] = {}
    end, requests = end_ms, 0
    while end >= start_ms:
        page = await client.funding_history(symbol, start_ms=start_ms, end_ms=end, limit=PAGE)
        requests += 1
        fresh = [f for f in page if start_ms <= f.time_ms <= end and f.time_ms not in rows]
        for f in fresh:
            rows[f.time_ms] = format(f.rate, "f")
        if not fresh or len(page) < PAGE:
            break
        end = min(f.time_ms for f in fresh) - 1
    return rows, requests


async def update_funding(client: BybitClient, symbol: str, start_ms: int, now_ms: int, path: Path) -> FundingReport:
    """Make the cache hold every settlement since ``start_ms``: fetch only what it lacks (older than its first,
    newer than its last), merge and rewrite atomically."""
    cached = read_funding(path)
    ranges = [(start_ms, now_ms)] if not cached else [(start_ms, min(cached) - 1), (max(cached) + 1, now_ms)]
    new: dict[int, str] = {}
    requests = 0
    for lo, hi in ranges:
        if lo <= hi:
            rows, n = await fetch_funding(client, symbol, lo, hi)
            new.update(rows)
            requests += n
    return FundingReport(path, len(new), _merge(path, cached, new), requests)


def _merge(path: Path, cached: dict[int, str], new: dict[int, str]) -> int:
    merged = {**cached, **new}
    if new or not path.exists():
        write_funding(path, merged)
    return len(merged)


class FundingBook:
    """Settlements for one backtest. A position pays ``sign × qty × price × rate`` at every settlement time
    ``t`` with ``entry < t ≤ exit`` (opened after the snapshot at ``t`` it pays nothing; closed at ``t`` it was
    still held), at ``price_at(t)`` as the mark price (the backtest passes the open of the bar holding ``t``):
    longs pay a positive rate, shorts receive it, and the reverse for a negative rate. The amount is exact
    (qty × price × rate, no rounding)."""

    def __init__(self, settlements: Sequence[tuple[int, Decimal]], price_at: Callable[[int], Decimal]) -> None:
        rows = sorted(settlements)
        self.times = [t for t, _ in rows]
        self.rates = [r for _, r in rows]
        self.price_at = price_at

    def __len__(self) -> int:
        return len(self.times)

    def charge(self, sign: int, qty: Decimal, entry_ms: int, exit_ms: int) -> tuple[Decimal, int]:
        """(funding paid, positive = a cost; settlements held)."""
        lo, hi = bisect_right(self.times, entry_ms), bisect_right(self.times, exit_ms)
        paid = Decimal(0)
        for k in range(lo, hi):
            paid += sign * qty * self.price_at(self.times[k]) * self.rates[k]
        return paid, hi - lo
