"""Pure candle helpers: build, load (with a data-quality report), trim and resample OHLCV frames."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from tradebot.timeutil import DAY_MS, MINUTE_MS, WEEK_MS, interval_ms, ms_to_datetime

__all__ = ["DAY_MS", "MINUTE_MS", "WEEK_MS", "interval_ms", "ms_to_datetime"]  # re-exported helpers
COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
_MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-05 was the first Monday after the epoch
INTERVALS: tuple[str, ...] = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")

Number = str | Decimal | float | int
Row = Sequence[Number]


@dataclass(frozen=True)
class Gap:
    """A run of missing bars: ``start``/``end`` are the open times of the first and last missing bar."""

    start: datetime
    end: datetime
    missing: int


@dataclass(frozen=True)
class DataQuality:
    """What :func:`load_csv` found wrong with a candle file (duplicates are dropped, keeping the first)."""

    rows: int
    interval_ms: int | None
    duplicates: tuple[datetime, ...]
    gaps: tuple[Gap, ...]
    unsorted: bool
    nan_rows: int
    ohlc_violations: int

    @property
    def missing_bars(self) -> int:
        return sum(g.missing for g in self.gaps)

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.gaps or self.nan_rows or self.ohlc_violations)

    def summary(self) -> str:
        iv = f"{self.interval_ms // MINUTE_MS}m" if self.interval_ms else "?"
        return (
            f"{self.rows} rows, interval {iv}, {len(self.duplicates)} duplicate(s), {len(self.gaps)} gap(s) "
            f"({self.missing_bars} missing bars), {self.nan_rows} NaN row(s), "
            f"{self.ohlc_violations} OHLC violation(s){', input was unsorted' if self.unsorted else ''}"
        )


def index_ms(index: pd.Index) -> np.ndarray:
    """Epoch milliseconds (int64) of a DatetimeIndex, whatever its resolution."""
    if len(index) == 0:
        return np.empty(0, dtype=np.int64)
    idx = index if isinstance(index, pd.DatetimeIndex) else pd.DatetimeIndex(index)
    raw: np.ndarray = idx.asi8
    unit = idx.unit
    if unit == "ms":
        return raw
    return raw * 1_000 if unit == "s" else raw // (1_000 if unit == "us" else 1_000_000)


def bucket_start_ms(ts_ms: np.ndarray, interval: str | int) -> np.ndarray:
    """Open time of the ``interval`` bucket holding each timestamp (UTC-aligned; weeks start Monday)."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    if str(interval) == "M":
        months = ts.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype(np.int64)
    step = interval_ms(interval)
    assert step is not None
    offset = _MONDAY_OFFSET_MS if step == WEEK_MS else 0
    return (ts - offset) // step * step + offset


def close_time_ms(open_ms: np.ndarray, interval: str | int) -> np.ndarray:
    """Close time (= next bucket's open time) of bars opening at ``open_ms``."""
    ts = np.asarray(open_ms, dtype=np.int64)
    if str(interval) == "M":
        months = ts.astype("datetime64[ms]").astype("datetime64[M]") + 1
        return months.astype("datetime64[ms]").astype(np.int64)
    step = interval_ms(interval)
    assert step is not None
    return ts + step


def _frame(ts: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ms", utc=True), name="time").as_unit("ms")
    data = {name: values[:, k].astype(np.float64) for k, name in enumerate(COLUMNS)}
    return pd.DataFrame(data, index=index)


def empty_frame() -> pd.DataFrame:
    """A candle frame with no rows but the right columns, dtypes and index."""
    return _frame(np.empty(0, dtype=np.int64), np.empty((0, 5)))


def frame_from_rows(rows: Iterable[Row], keep: Literal["first", "last"] = "last") -> pd.DataFrame:
    """Candle frame from ``(ts_ms, open, high, low, close, volume)`` rows given as str/Decimal/float.

    Rows may come in any order (Bybit returns newest first). The result is oldest first; for a
    repeated timestamp the ``keep`` row wins ("last" by default: the freshest update of a candle).
    """
    items = [tuple(r) for r in rows]
    if not items:
        return empty_frame()
    if any(len(r) < 6 for r in items):
        raise ValueError("each row needs ts_ms, open, high, low, close, volume")
    ts = np.array([int(r[0]) for r in items], dtype=np.int64)
    values = np.array([[float(x) for x in r[1:6]] for r in items], dtype=np.float64)
    if keep == "last":
        ts, values = ts[::-1], values[::-1]
    _, first = np.unique(ts, return_index=True)  # np.unique sorts; return_index is the first occurrence
    return _frame(ts[first], values[first])


def _parse_timestamps(col: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col):
        ms: np.ndarray = col.to_numpy(dtype=np.int64)
        return ms
    parsed = pd.to_datetime(col, utc=True, format="ISO8601")
    return index_ms(pd.DatetimeIndex(parsed))


def infer_interval_ms(ts_ms: np.ndarray) -> int | None:
    """Most common positive spacing between sorted unique timestamps, or None with < 2 bars."""
    ts_ms = np.asarray(ts_ms)
    increasing = ts_ms.size < 2 or bool(np.all(ts_ms[1:] > ts_ms[:-1]))
    diffs = np.diff(ts_ms if increasing else np.unique(ts_ms))
    if diffs.size == 0:
        return None
    if bool(np.all(diffs == diffs[0])):  # the usual case: no gaps
        return int(diffs[0])
    ordered = np.sort(diffs)  # sort-based mode: the smallest of equally common spacings, as np.unique gives
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, ordered.size])
    return int(ordered[starts[np.argmax(counts)]])


def load_csv(path: str | Path) -> tuple[pd.DataFrame, DataQuality]:
    """Read ``timestamp,open,high,low,close,volume`` (timestamp in epoch ms or ISO-8601, UTC if naive).

    The column may also be called ``timestamp_ms``. Duplicated timestamps keep their first row and are
    listed in the report; gaps are runs of missing bars at the inferred (most common) interval.
    """
    raw = pd.read_csv(path)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    ts_col = "timestamp" if "timestamp" in raw.columns else "timestamp_ms"
    missing = [c for c in (ts_col, *COLUMNS) if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    ts = _parse_timestamps(raw[ts_col])
    values = np.column_stack([pd.to_numeric(raw[c], errors="coerce").to_numpy(np.float64) for c in COLUMNS])
    unsorted = bool(np.any(np.diff(ts) < 0))
    order = np.argsort(ts, kind="stable")  # stable: the first of equal timestamps stays first
    ts, values = ts[order], values[order]
    dup_mask = np.zeros(ts.size, dtype=bool)
    dup_mask[1:] = ts[1:] == ts[:-1]
    duplicates = tuple(ms_to_datetime(t) for t in np.unique(ts[dup_mask]))
    ts, values = ts[~dup_mask], values[~dup_mask]
    step = infer_interval_ms(ts)
    gaps: list[Gap] = []
    if step:
        diffs = np.diff(ts)
        for k in np.flatnonzero(diffs > step):
            n_missing = int(diffs[k] // step) - 1 if diffs[k] % step == 0 else int(diffs[k] // step)
            if n_missing > 0:
                start = int(ts[k]) + step
                gaps.append(Gap(ms_to_datetime(start), ms_to_datetime(start + (n_missing - 1) * step), n_missing))
    o, h, low, c = (values[:, k] for k in range(4))
    nan_rows = int(np.sum(~np.isfinite(values).all(axis=1)))
    with np.errstate(invalid="ignore"):
        bad = (h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (h < low)
    quality = DataQuality(
        rows=int(ts.size),
        interval_ms=step,
        duplicates=duplicates,
        gaps=tuple(gaps),
        unsorted=unsorted,
        nan_rows=nan_rows,
        ohlc_violations=int(np.sum(bad)),
    )
    return _frame(ts, values), quality


def drop_unclosed(df: pd.DataFrame, interval_minutes: int, now_ms: int) -> pd.DataFrame:
    """Drop candles that have not closed by ``now_ms`` (open time + interval > now), i.e. a forming last bar."""
    if interval_minutes <= 0:
        raise ValueError("interval_minutes must be positive")
    closes = index_ms(df.index) + interval_minutes * MINUTE_MS
    keep = closes <= now_ms
    return df if bool(keep.all()) else df.loc[keep]


def resample(df: pd.DataFrame, interval: str | int, base_minutes: int | None = None) -> pd.DataFrame:
    """Aggregate base candles into ``interval`` buckets (UTC-aligned OHLCV) with a ``complete`` flag.

    ``complete`` is True when the bucket holds every base bar it should (``base_minutes`` or the inferred
    base interval); a still-forming or gappy bucket is False. Extra columns are ignored by the strategy.
    """
    if len(df) == 0:
        out = empty_frame()
        out["complete"] = np.zeros(0, dtype=bool)
        return out
    ts = index_ms(df.index)
    if np.any(np.diff(ts) <= 0):
        raise ValueError("resample needs strictly increasing timestamps (use frame_from_rows/load_csv)")
    base_ms = base_minutes * MINUTE_MS if base_minutes else infer_interval_ms(ts)
    buckets = bucket_start_ms(ts, interval)
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], ts.size] - 1
    cols = {c: df[c].to_numpy(np.float64) for c in COLUMNS}
    values = np.column_stack(
        [
            cols["open"][starts],
            np.maximum.reduceat(cols["high"], starts),
            np.minimum.reduceat(cols["low"], starts),
            cols["close"][ends],
            np.add.reduceat(cols["volume"], starts),
        ]
    )
    bucket_open = buckets[starts]
    out = _frame(bucket_open, values)
    if base_ms:
        expected = (close_time_ms(bucket_open, interval) - bucket_open) // base_ms
        out["complete"] = (ends - starts + 1) == expected
    else:
        out["complete"] = np.zeros(len(out), dtype=bool)
    return out


def fit_interval(df: pd.DataFrame, data_ms: int | None, interval: str,
                 say: Callable[[str], object] | None = None) -> pd.DataFrame:
    """``df`` (candles of ``data_ms``) as complete ``interval`` candles: resampled from finer ones, as is when they
    match (or either is unknown); coarser candles cannot be split (ValueError). ``say`` hears about a resample."""
    want = interval_ms(interval)
    if data_ms is None or want is None or data_ms == want:
        return df
    if want % data_ms:
        raise ValueError(f"the data's {data_ms // MINUTE_MS}m candles cannot make {interval} candles")
    if say is not None:
        say(f"resampling {data_ms // MINUTE_MS}m candles to {interval}")
    out = resample(df, interval)
    return out.loc[out["complete"]].drop(columns="complete")
