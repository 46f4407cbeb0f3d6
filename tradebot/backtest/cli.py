"""`bot.py backtest`: load or download candles, run the backtest, print the table, write JSON/CSV/PNG."""

from __future__ import annotations

import argparse
import asyncio
import sys
from decimal import Decimal, InvalidOperation

import httpx
import pandas as pd

from tradebot.backtest.data import load_candles, parse_date, window
from tradebot.backtest.download import cache_path, download
from tradebot.backtest.engine import run_backtest
from tradebot.backtest.models import BacktestResult
from tradebot.backtest.plot import plot_equity
from tradebot.backtest.report import render_summary, write_json, write_trades_csv
from tradebot.config import Config
from tradebot.errors import TradebotError
from tradebot.market import DAY_MS, MINUTE_MS, interval_ms, resample

DEFAULT_DAYS = 30


def _fit_interval(df: pd.DataFrame, data_ms: int | None, interval: str) -> pd.DataFrame:
    """Resample finer candles to ``interval``; refuse coarser ones."""
    want = interval_ms(interval)
    if data_ms is None or want is None or data_ms == want:
        return df
    if want % data_ms:
        raise ValueError(f"the data's {data_ms // MINUTE_MS}m candles cannot make {interval} candles")
    print(f"resampling {data_ms // MINUTE_MS}m candles to {interval}")
    out = resample(df, interval)
    return out.loc[out["complete"]].drop(columns="complete")


def _load(args: argparse.Namespace, cfg: Config, symbol: str) -> tuple[pd.DataFrame, str, pd.Timestamp | None]:
    """Candles, their interval and the first bar to trade (earlier bars only warm the indicators up)."""
    start = parse_date(args.date_from)
    if args.data:
        df, q = load_candles(args.data)
        interval = args.interval or (str(q.interval_ms // MINUTE_MS) if q.interval_ms else cfg.bot.interval)
        return _fit_interval(df, q.interval_ms, interval), interval, start
    interval = args.interval or cfg.bot.interval
    days = args.days or DEFAULT_DAYS
    step = interval_ms(interval) or DAY_MS
    warm = -(-cfg.bot.candles * step // DAY_MS)  # whole days of warm-up before the window
    rep = asyncio.run(download(symbol, interval, days + warm, cache_path(symbol, interval),
                               progress=not args.no_progress))
    print(f"{rep.path}: {rep.fetched} new candle(s) downloaded, {rep.total} cached")
    df, _ = load_candles(rep.path)
    if start is None and len(df):
        start = df.index[-1] - pd.Timedelta(days=days) + pd.Timedelta(milliseconds=step)
    return df, interval, start


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
        df, interval, start = _load(args, cfg, symbol)
        df = window(df, start, parse_date(args.date_to))
        result = run_backtest(df, cfg, symbol, balance, start=start, progress=not args.no_progress)
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
        plot_equity(result, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _notes(result: BacktestResult, cfg: Config, symbol: str) -> None:
    from tradebot.sim.instruments import INSTRUMENTS

    if symbol not in INSTRUMENTS:
        result.notes.append(f"{symbol}: not in the built-in instrument table; BTCUSDT tick/qty rules were used")
    if cfg.strategy.orderbook.enabled:
        result.notes.append("order-book vote abstains in backtests (no historical order book)")
