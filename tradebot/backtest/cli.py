"""`bot.py backtest`: load or download candles, run the backtest, print the table, write JSON/CSV/PNG."""

from __future__ import annotations

import argparse
import asyncio
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import httpx
import pandas as pd

from tradebot.backtest.data import load_candles, parse_date, window
from tradebot.backtest.download import cache_path, download, funding_line
from tradebot.backtest.engine import run_backtest
from tradebot.backtest.funding import funding_path, load_funding
from tradebot.backtest.models import MARKET, BacktestResult
from tradebot.backtest.report import market_figures, render_summary, write_json, write_trades_csv
from tradebot.errors import TradebotError
from tradebot.market import DAY_MS, MINUTE_MS, fit_interval, interval_ms
from tradebot.settings.config import Config

DEFAULT_DAYS = 30


def _funding(args: argparse.Namespace, candles: Path, symbol: str) -> list[tuple[int, Decimal]] | None:
    """The funding history: ``--funding FILE``, else ``SYMBOL_funding.csv`` next to the candles; None if absent."""
    path = Path(args.funding) if getattr(args, "funding", None) else funding_path(symbol, candles.parent)
    if not path.exists():
        if getattr(args, "funding", None):
            raise ValueError(f"--funding {path}: no such file")
        print(f"no funding history at {path}: funding not included")
        return None
    rows = load_funding(path)
    print(f"{path}: {len(rows)} funding settlement(s)")
    return rows


def _load(args: argparse.Namespace, cfg: Config, symbol: str) -> tuple[pd.DataFrame, str, pd.Timestamp | None, Path]:
    """Candles, their interval, the first bar to trade (earlier bars only warm the indicators up), the file."""
    start = parse_date(args.date_from)
    if args.data:
        df, q = load_candles(args.data)
        interval = args.interval or (str(q.interval_ms // MINUTE_MS) if q.interval_ms else cfg.bot.interval)
        return fit_interval(df, q.interval_ms, interval, say=print), interval, start, Path(args.data)
    interval = args.interval or cfg.bot.interval
    days = args.days or DEFAULT_DAYS
    step = interval_ms(interval) or DAY_MS
    warm = -(-cfg.bot.candles * step // DAY_MS)  # whole days of warm-up before the window
    rep = asyncio.run(download(symbol, interval, days + warm, cache_path(symbol, interval),
                               progress=not args.no_progress))
    print(f"{rep.path}: {rep.fetched} new candle(s) downloaded, {rep.total} cached")
    print(funding_line(rep))
    df, _ = load_candles(rep.path)
    if start is None and len(df):
        start = df.index[-1] - pd.Timedelta(days=days) + pd.Timedelta(milliseconds=step)
    return df, interval, start, rep.path


def run_backtest_cli(args: argparse.Namespace, cfg: Config) -> int:
    """Entry point of ``bot.py backtest``. Exit 0 on success, 1 on bad data/network, 2 on bad arguments."""
    symbol = args.symbol.strip().upper()
    try:
        balance = Decimal(str(args.balance))
        if not balance.is_finite() or balance <= 0:
            raise InvalidOperation
    except InvalidOperation:
        print(f"--balance must be a positive number of USDT, got {args.balance!r}", file=sys.stderr)
        return 2
    try:
        df, interval, start, source = _load(args, cfg, symbol)
        df = window(df, start, parse_date(args.date_to))
        funding = _funding(args, source, symbol)
        result = run_backtest(df, cfg, symbol, balance, start=start, progress=not args.no_progress, funding=funding)
        if result.execution.maker:  # the same signals with market entries, for the fee comparison
            market = run_backtest(df, cfg, symbol, balance, start=start, funding=funding, execution=MARKET)
            result.market = market_figures(market)
    except (ValueError, OSError, TradebotError, httpx.HTTPError) as exc:
        print(f"backtest failed: {exc}", file=sys.stderr)
        return 1
    _notes(result, cfg, symbol)
    print(render_summary(result))
    if args.json_out:
        write_json(result, args.json_out)
        print(f"wrote {args.json_out}")
    if args.trades_csv:
        write_trades_csv(result.trades, args.trades_csv)
        print(f"wrote {args.trades_csv}")
    if args.plot:
        from tradebot.backtest.plot import plot_equity

        plot_equity(result, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _notes(result: BacktestResult, cfg: Config, symbol: str) -> None:
    from tradebot.market_model.instruments import INSTRUMENTS

    if symbol not in INSTRUMENTS:
        result.notes.append(f"{symbol}: not in the built-in instrument table; BTCUSDT tick/qty rules were used")
    if cfg.strategy.orderbook.enabled:
        result.notes.append("order-book vote abstains in backtests (no historical order book)")
