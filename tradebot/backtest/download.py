"""`bot.py download`: Bybit klines and funding rates → data/cache/, paging backwards, resuming the cache."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from tqdm import tqdm

from tradebot.backtest.csvcache import read_rows, write_rows
from tradebot.backtest.funding import FundingReport, funding_path, update_funding
from tradebot.bybit.client import BybitClient
from tradebot.errors import TradebotError
from tradebot.market import DAY_MS, interval_ms, ms_to_datetime

HEADER = ("timestamp_ms", "open", "high", "low", "close", "volume")
PAGE = 1000  # Bybit's maximum klines per request
CACHE_DIR = Path("data") / "cache"
Row = tuple[str, str, str, str, str, str]


@dataclass(frozen=True)
class DownloadReport:
    path: Path
    fetched: int  # new closed candles written
    total: int  # candles in the cache now
    requests: int
    first_ms: int | None
    last_ms: int | None
    dropped_forming: int
    funding: FundingReport | None = None  # the funding-rate history fetched with the candles
    funding_error: str | None = None  # why it could not be fetched (the candles are still good)


def cache_path(symbol: str, interval: str, base: Path = CACHE_DIR) -> Path:
    return base / f"{symbol}_{interval}.csv"


def read_cache(path: Path) -> dict[int, Row]:
    """Rows of an existing cache file keyed by open time (exact strings); empty when the file does not exist."""
    return read_rows(path, (HEADER, ("timestamp", *HEADER[1:])), "candle cache",
                     lambda r: (r[0], r[1], r[2], r[3], r[4], r[5]))


def write_cache(path: Path, rows: dict[int, Row]) -> None:
    """Write oldest first, atomically (a crash never leaves a half-written cache)."""
    write_rows(path, HEADER, (rows[ts] for ts in sorted(rows)))


async def fetch_range(client: BybitClient, symbol: str, interval: str, start_ms: int, end_ms: int,
                      bar: tqdm | None = None) -> tuple[dict[int, Row], int]:
    """Candles opening in [start_ms, end_ms], newest page first then backwards past the 1000-row limit.

    Stops when a page reaches ``start_ms`` or comes back short (nothing older: the listing date).
    Returns the rows and the number of requests made.
    """
    rows: dict[int, Row] = {}
    end, requests = end_ms, 0
    while end >= start_ms:
        page = await client.klines(symbol, interval, limit=PAGE, start_ms=start_ms, end_ms=end)
        requests += 1
        fresh = [k for k in page if start_ms <= k.start_ms <= end and k.start_ms not in rows]
        for k in fresh:
            rows[k.start_ms] = (str(k.start_ms), format(k.open, "f"), format(k.high, "f"), format(k.low, "f"),
                                format(k.close, "f"), format(k.volume, "f"))
        if bar is not None:
            bar.update(len(fresh))
        if not fresh or len(page) < PAGE:
            break
        oldest = min(k.start_ms for k in fresh)
        if oldest <= start_ms:
            break
        end = oldest - 1
        await asyncio.sleep(0)  # let the trading loop in between pages, even when an answer needed no waiting
    return rows, requests


async def download(symbol: str, interval: str, days: int, out: Path | None = None, base_url: str = "mainnet", *,
                   progress: bool = True, transport: httpx.AsyncBaseTransport | None = None,
                   now_ms: int | None = None, funding: bool = True) -> DownloadReport:
    """Make the cache hold every closed candle of the last ``days`` days: fetch only what it lacks (newer
    than its last candle, older than its first), drop the still-forming candle, merge and rewrite.
    With ``funding`` the symbol's funding-rate history over the same days is cached next to it
    (``SYMBOL_funding.csv``, same resume rule)."""
    step = interval_ms(interval)
    if step is None:
        raise ValueError("interval M (calendar month) cannot be cached; use minutes, D or W")
    path = out or cache_path(symbol, interval)
    cached = read_cache(path)
    async with BybitClient(base_url, transport=transport) as client:
        now = now_ms if now_ms is not None else await client.server_time_ms()
        want = (now - days * DAY_MS) // step * step
        ranges = [(want, now)] if not cached else [(want, min(cached) - 1), (max(cached) + step, now)]
        todo = [(lo, hi) for lo, hi in ranges if lo <= hi]
        total = sum((hi - lo) // step + 1 for lo, hi in todo)
        new: dict[int, Row] = {}
        requests = 0
        with tqdm(total=total, disable=not progress, unit="candle", desc=f"{symbol} {interval}") as bar:
            for lo, hi in todo:
                rows, n = await fetch_range(client, symbol, interval, lo, hi, bar)
                new.update(rows)
                requests += n
        fund, fund_error = None, None
        if funding:
            try:
                fund = await update_funding(client, symbol, want, now, funding_path(symbol, path.parent))
            except (TradebotError, httpx.HTTPError) as exc:
                fund_error = str(exc)
    forming = [ts for ts in new if ts + step > now]  # Bybit's newest kline is still forming: never cache it
    for ts in forming:
        del new[ts]
    merged = {**cached, **new}
    if new or not path.exists():
        write_cache(path, merged)
    return DownloadReport(path, len(new), len(merged), requests, min(merged) if merged else None,
                          max(merged) if merged else None, len(forming), fund, fund_error)


def run_download_cli(args: argparse.Namespace) -> int:
    """Entry point of ``bot.py download``; prints what was fetched; exit code 0 on success."""
    symbol, interval = args.symbol.strip().upper(), str(args.interval)
    out = Path(args.out) if args.out else None
    try:
        rep = asyncio.run(download(symbol, interval, args.days, out, args.base_url or "mainnet",
                                   progress=not args.no_progress))
    except (TradebotError, httpx.HTTPError, OSError, ValueError) as exc:
        print(f"download failed: {exc}", file=sys.stderr)
        return 1
    span = ""
    if rep.first_ms is not None and rep.last_ms is not None:
        span = f", {ms_to_datetime(rep.first_ms):%Y-%m-%d %H:%M} .. {ms_to_datetime(rep.last_ms):%Y-%m-%d %H:%M} UTC"
    print(f"{symbol} {interval}: {rep.fetched} new candle(s) in {rep.requests} request(s); "
          f"{rep.total} in {rep.path}{span}")
    print(funding_line(rep))
    return 0


def funding_line(rep: DownloadReport) -> str:
    if rep.funding is not None:
        f = rep.funding
        return f"funding rates: {f.fetched} new settlement(s) in {f.requests} request(s); {f.total} in {f.path}"
    return f"funding rates not downloaded: {rep.funding_error or 'disabled'} (backtests then say funding: not included)"
