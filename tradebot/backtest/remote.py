"""Backtest on candles fetched through the client (for the chat's /backtest): fetch, run in a thread, render."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from tradebot.backtest.download import fetch_range
from tradebot.backtest.engine import run_backtest
from tradebot.backtest.funding import fetch_funding
from tradebot.backtest.plot import plot_equity
from tradebot.backtest.report import render_summary
from tradebot.bybit.client import BybitClient
from tradebot.config import Config
from tradebot.errors import ArgumentError, ExchangeError, UserError
from tradebot.market import frame_from_rows, interval_ms
from tradebot.risk import RiskParams

MAX_DAYS = 365
WARMUP_BARS = 300


@dataclass(frozen=True)
class BacktestReport:
    summary: str
    png: bytes
    trades: int


def parse_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise ArgumentError(f"DAYS must be a whole number, not {text!r}.") from None
    if not 1 <= days <= MAX_DAYS:
        raise ArgumentError(f"{days} days is out of range.")
    return days


async def backtest_recent(client: BybitClient, cfg: Config, symbol: str, days: int, end_ms: int,
                          balance: Decimal, *, risk: RiskParams | None = None, source: str = "") -> BacktestReport:
    """Backtest the configured strategy over the last ``days`` of ``symbol`` (+ warm-up) without blocking the loop.

    ``risk`` replaces the config's risk table (the chat passes the live settings, ``/risk`` included) and
    ``source`` says where the settings came from in the report. Funding rates for the period are fetched too;
    if Bybit refuses them the report says funding is not included.
    """
    step = interval_ms(cfg.bot.interval)
    assert step is not None
    start_ms = end_ms - days * 86_400_000
    try:
        rows, _ = await fetch_range(client, symbol, cfg.bot.interval, start_ms - WARMUP_BARS * step, end_ms)
        inst = await client.instrument(symbol)
    except ExchangeError as exc:
        raise UserError(f"Could not load {symbol} candles: {exc}") from exc
    closed = [rows[t] for t in sorted(rows) if t + step <= end_ms]  # drop the still-forming candle
    if len(closed) < WARMUP_BARS // 2:
        raise UserError(f"Not enough {symbol} history for a backtest ({len(closed)} candles).")
    df = frame_from_rows(closed)
    start = pd.Timestamp(start_ms, unit="ms", tz="UTC")
    try:
        rates, _ = await fetch_funding(client, symbol, start_ms - WARMUP_BARS * step, end_ms)
        funding: list[tuple[int, Decimal]] | None = [(t, Decimal(r)) for t, r in sorted(rates.items())]
    except ExchangeError:
        funding = None
    result = await asyncio.to_thread(run_backtest, df, risk or cfg.risk, symbol, balance, strategy=cfg.strategy,
                                     inst=inst, start=start, funding=funding)
    result.settings_source = source
    png = await asyncio.to_thread(plot_equity, result)
    return BacktestReport(render_summary(result), png, len(result.trades))
