"""Backtest inputs: candle files with their data-quality report, date windows, HTF frames, instrument defaults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd

from tradebot.backtest.cache import load_cached
from tradebot.market import DataQuality, load_csv, resample
from tradebot.sizing.instruments import Instrument
from tradebot.strategy import StrategyParams

MAX_LISTED = 5  # gaps/duplicates printed one per line; the rest are counted


def default_instrument(symbol: str) -> Instrument:
    """The simulator's built-in rules for ``symbol`` (so backtest and simulator agree), else BTCUSDT-like rules."""
    try:
        from tradebot.market_model.instruments import INSTRUMENTS
    except ImportError:  # pragma: no cover - the simulator ships with the repo
        INSTRUMENTS = {}
    sim = INSTRUMENTS.get(symbol) or INSTRUMENTS.get("BTCUSDT")
    if sim is None:  # pragma: no cover
        return Instrument(symbol, Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal("1190"),
                          Decimal("500"), Decimal("5"), Decimal("100"))
    return Instrument(symbol=symbol, tick_size=sim.tick_size, qty_step=sim.qty_step, min_qty=sim.min_order_qty,
                      max_qty=sim.max_order_qty, max_mkt_qty=sim.max_mkt_order_qty, min_notional=sim.min_notional,
                      max_leverage=sim.max_leverage)


def htf_frames(df: pd.DataFrame, params: StrategyParams) -> dict[str, pd.DataFrame]:
    """Each configured higher timeframe resampled from the base candles (every bucket, as the simulator's
    kline endpoint aggregates them); the strategy only uses an HTF candle once it has closed."""
    return {h.interval: resample(df, h.interval) for h in params.higher_timeframes}


def quality_lines(q: DataQuality, source: str) -> list[str]:
    """Human-readable data-quality report: every problem is shown, never silently used."""
    lines = [f"{source}: {q.summary()}"]
    for when in q.duplicates[:MAX_LISTED]:
        lines.append(f"  duplicate timestamp {when:%Y-%m-%d %H:%M} UTC (kept the first row)")
    if len(q.duplicates) > MAX_LISTED:
        lines.append(f"  ... and {len(q.duplicates) - MAX_LISTED} more duplicate timestamps")
    for g in q.gaps[:MAX_LISTED]:
        lines.append(f"  gap: {g.missing} missing bar(s) {g.start:%Y-%m-%d %H:%M} .. {g.end:%Y-%m-%d %H:%M} UTC "
                     "(the replay jumps it: stops crossed by the jump fill at the next open)")
    if len(q.gaps) > MAX_LISTED:
        lines.append(f"  ... and {len(q.gaps) - MAX_LISTED} more gaps")
    if q.nan_rows:
        lines.append(f"  {q.nan_rows} row(s) with missing prices: the strategy skips them")
    if q.ohlc_violations:
        lines.append(f"  {q.ohlc_violations} row(s) where high/low do not contain open/close")
    return lines


def load_candles(path: str | Path, report: Callable[[str], None] = print, *, cache: bool = True,
                 cache_dir: Path | None = None) -> tuple[pd.DataFrame, DataQuality]:
    """Load a ``timestamp,open,high,low,close,volume`` CSV and report its gaps/duplicates through ``report``.

    With ``cache`` the parsed file is kept as Parquet (``tradebot.backtest.cache``): later loads skip the CSV.
    """
    df, q = load_cached(path, cache_dir)[:2] if cache else load_csv(path)
    for line in quality_lines(q, str(path)):
        report(line)
    if q.nan_rows:
        df = df.dropna(subset=["open", "high", "low", "close"])
    return df, q


def parse_date(text: str | None) -> pd.Timestamp | None:
    """``YYYY-MM-DD`` (or any ISO-8601 time) as a UTC timestamp; None stays None."""
    if not text:
        return None
    ts = pd.Timestamp(text)
    return ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)


def window(df: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame:
    """Bars before ``end`` (exclusive). Bars before ``start`` are kept: they warm the indicators up."""
    if end is not None:
        df = df.loc[df.index < end]
    if start is not None and (len(df) == 0 or df.index[-1] < start):
        raise ValueError(f"no candles at or after {start:%Y-%m-%d %H:%M} UTC in the data")
    return df


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
