"""Backtest on candles fetched through the client (for the chat's /backtest): fetch on the event loop, then run and
render in a worker process (``cpu``: the heavy queue's pool, see ``tradebot/chat/heavy.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from tradebot.backtest.download import fetch_range
from tradebot.backtest.engine import run_backtest
from tradebot.backtest.funding import fetch_funding
from tradebot.backtest.plot import plot_equity
from tradebot.backtest.report import render_summary
from tradebot.bybit.client import BybitClient
from tradebot.chat.heavy import Cpu, in_thread
from tradebot.errors import ArgumentError, ExchangeError, UserError
from tradebot.market import Row, frame_from_rows, interval_ms
from tradebot.parsing import shown, whole
from tradebot.settings.config import Config
from tradebot.sizing.execution import ExecutionSettings
from tradebot.sizing.instruments import Instrument
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams

MAX_DAYS = 365
WARMUP_BARS = 300


@dataclass(frozen=True)
class BacktestReport:
    summary: str
    png: bytes
    trades: int


def parse_days(text: str) -> int:
    try:
        days = whole(text)  # ASCII digits only: int() reads "١٠" and "1_0" as 10
    except ValueError:
        raise ArgumentError(f"DAYS must be a whole number, not {shown(text)}.") from None
    if not 1 <= days <= MAX_DAYS:
        raise ArgumentError(f"{days} days is out of range.")
    return days


async def backtest_recent(client: BybitClient, cfg: Config, symbol: str, days: int, end_ms: int,
                          balance: Decimal, *, risk: RiskParams | None = None, source: str = "",
                          cpu: Cpu = in_thread) -> BacktestReport:
    """Backtest the configured strategy over the last ``days`` of ``symbol`` (+ warm-up) without blocking the loop.

    ``risk`` replaces the config's risk table (the chat passes the live settings, ``/risk`` included) and
    ``source`` says where the settings came from in the report. Funding rates for the period are fetched too;
    if Bybit refuses them the report says funding is not included. The candles are fetched here (the client
    lives on the event loop); the backtest and its PNG run through ``cpu``.
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
    del rows
    if len(closed) < WARMUP_BARS // 2:
        raise UserError(f"Not enough {symbol} history for a backtest ({len(closed)} candles).")
    try:
        rates, _ = await fetch_funding(client, symbol, start_ms - WARMUP_BARS * step, end_ms)
        funding: list[tuple[int, Decimal]] | None = [(t, Decimal(r)) for t, r in sorted(rates.items())]
    except ExchangeError:
        funding = None
    return await cpu(report_of, closed, risk or cfg.risk, cfg.strategy, symbol, balance, inst, start_ms, funding,
                     source, cfg.execution)


def report_of(closed: Sequence[Row], risk: RiskParams, strategy: StrategyParams, symbol: str, balance: Decimal,
              inst: Instrument, start_ms: int, funding: list[tuple[int, Decimal]] | None,
              source: str, execution: ExecutionSettings | None = None) -> BacktestReport:
    """The CPU part (a worker process): candle rows → backtest → summary and equity PNG. Plain data in and out."""
    result = run_backtest(frame_from_rows(closed), risk, symbol, balance, strategy=strategy, inst=inst,
                          start=pd.Timestamp(start_ms, unit="ms", tz="UTC"), funding=funding, execution=execution)
    result.settings_source = source
    return BacktestReport(render_summary(result), plot_equity(result), len(result.trades))
