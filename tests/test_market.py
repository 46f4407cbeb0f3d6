"""Candle helpers: building frames from rows, loading CSVs with a quality report, trimming, resampling."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.market import (
    COLUMNS,
    close_time_ms,
    drop_unclosed,
    frame_from_rows,
    index_ms,
    infer_interval_ms,
    interval_ms,
    load_csv,
    resample,
)

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "BTCUSDT_5m.csv"
T0 = 1_750_000_800_000  # 2025-06-15 15:20 UTC (a 5m boundary)
M5 = 300_000


def _row(k: int, close: float = 100.0) -> tuple[int, float, float, float, float, float]:
    return (T0 + k * M5, close, close + 1, close - 1, close + 0.5, 10.0 + k)


def test_frame_from_rows_sorts_dedups_and_types() -> None:
    rows = [
        (str(T0 + M5), "101", "102", "100", "101.5", "7"),
        (T0, Decimal("100"), Decimal("101"), Decimal("99"), Decimal("100.5"), Decimal("3")),
        (T0 + M5, 1.0, 2.0, 0.5, 1.5, 9.0),  # same time again: the later row wins by default
    ]
    df = frame_from_rows(rows)
    assert list(df.columns) == list(COLUMNS)
    assert all(df[c].dtype == np.float64 for c in COLUMNS)
    assert df.index.name == "time" and str(df.index.tz) == "UTC"
    assert list(index_ms(df.index)) == [T0, T0 + M5]
    assert df["close"].tolist() == [100.5, 1.5]
    first = frame_from_rows(rows, keep="first")
    assert first["close"].tolist() == [100.5, 101.5]


def test_frame_from_rows_empty_and_bad() -> None:
    empty = frame_from_rows([])
    assert len(empty) == 0 and list(empty.columns) == list(COLUMNS)
    with pytest.raises(ValueError, match="ts_ms"):
        frame_from_rows([(T0, 1, 2, 3)])


def _write(tmp_path: Path, lines: list[str], header: str = "timestamp,open,high,low,close,volume") -> Path:
    path = tmp_path / "candles.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_load_csv_ms_reports_gaps_and_duplicates(tmp_path: Path) -> None:
    ks = [0, 1, 2, 2, 5, 6, 9, 3]  # 2 duplicated, 3-4 missing (3 arrives late), 7-8 missing
    lines = [",".join(str(x) for x in _row(k)) for k in ks]
    lines[3] = lines[3].replace("100.5", "999.0")  # the duplicate differs: the first one must win
    df, q = load_csv(_write(tmp_path, lines))
    assert q.unsorted and q.interval_ms == M5
    assert q.duplicates == (datetime.fromtimestamp((T0 + 2 * M5) / 1000, UTC),)
    assert df.loc[df.index[2], "close"] == 100.5
    assert len(df) == q.rows == 7
    assert [(g.missing, g.start, g.end) for g in q.gaps] == [
        (1, pd.Timestamp(T0 + 4 * M5, unit="ms", tz="UTC"), pd.Timestamp(T0 + 4 * M5, unit="ms", tz="UTC")),
        (2, pd.Timestamp(T0 + 7 * M5, unit="ms", tz="UTC"), pd.Timestamp(T0 + 8 * M5, unit="ms", tz="UTC")),
    ]
    assert q.missing_bars == 3 and not q.ok
    assert "2 gap(s)" in q.summary()
    assert index_ms(df.index).tolist() == sorted(index_ms(df.index).tolist())


def test_load_csv_iso_timestamps_and_nan(tmp_path: Path) -> None:
    lines = [
        "2025-04-03 17:05:00+00:00,81794.8,81998.1,81785.2,81804.9,317.956",
        "2025-04-03T17:10:00Z,81804.9,81898.3,81714.5,81800.3,128.285",
        "2025-04-03 17:15:00,81800.3,81900.0,81736.0,,215.208",  # naive = UTC; missing close
    ]
    df, q = load_csv(_write(tmp_path, lines))
    assert index_ms(df.index).tolist() == [1743699900000, 1743700200000, 1743700500000]
    assert q.nan_rows == 1 and not q.gaps and not q.duplicates
    assert np.isnan(df["close"].iloc[-1])


def test_load_csv_sample_is_clean() -> None:
    df, q = load_csv(SAMPLE)
    assert q.ok and q.rows == len(df) == 4000 and q.interval_ms == M5
    assert df.index.is_monotonic_increasing


def test_load_csv_missing_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="volume"):
        load_csv(_write(tmp_path, ["1,2,3,4,5"], header="timestamp,open,high,low,close"))


def test_drop_unclosed() -> None:
    df = frame_from_rows([_row(k) for k in range(3)])
    last_close = T0 + 3 * M5
    assert len(drop_unclosed(df, 5, last_close)) == 3  # closes exactly now: complete
    assert len(drop_unclosed(df, 5, last_close - 1)) == 2  # still forming
    with pytest.raises(ValueError):
        drop_unclosed(df, 0, last_close)


def test_interval_helpers() -> None:
    assert interval_ms("60") == 3_600_000 and interval_ms("D") == 86_400_000 and interval_ms("M") is None
    jan = int(pd.Timestamp("2025-01-01", tz="UTC").timestamp() * 1000)
    feb = int(pd.Timestamp("2025-02-01", tz="UTC").timestamp() * 1000)
    assert close_time_ms(np.array([jan]), "M").tolist() == [feb]
    with pytest.raises(ValueError):
        interval_ms("7x")


def test_resample_hourly_matches_manual_and_flags_complete() -> None:
    df, _ = load_csv(SAMPLE)
    h = resample(df, "60")
    ts = index_ms(df.index)
    bucket = ts // 3_600_000 * 3_600_000
    g = df.groupby(bucket)
    assert index_ms(h.index).tolist() == sorted(set(bucket.tolist()))
    np.testing.assert_array_equal(h["open"].to_numpy(), g["open"].first().to_numpy())
    np.testing.assert_array_equal(h["high"].to_numpy(), g["high"].max().to_numpy())
    np.testing.assert_array_equal(h["low"].to_numpy(), g["low"].min().to_numpy())
    np.testing.assert_array_equal(h["close"].to_numpy(), g["close"].last().to_numpy())
    np.testing.assert_allclose(h["volume"].to_numpy(), g["volume"].sum().to_numpy(), rtol=1e-12)
    counts = g.size().to_numpy()
    assert h["complete"].tolist() == (counts == 12).tolist()
    # the sample ends at 16:55, the last bar of its hour, so only a partial first hour can be incomplete
    assert h["complete"].iloc[1:].all()


def test_resample_partial_last_bucket_and_weekly_alignment() -> None:
    df = frame_from_rows([_row(k) for k in range(7)])  # 15:20 .. 15:50: a partial hour
    h = resample(df, "60")
    assert len(h) == 1 and not h["complete"].iloc[0]
    assert h["open"].iloc[0] == 100.0 and h["volume"].iloc[0] == sum(10.0 + k for k in range(7))
    w = resample(df, "W", base_minutes=5)
    assert w.index[0] == pd.Timestamp("2025-06-09", tz="UTC")  # Monday 00:00 UTC
    assert w.index[0].day_of_week == 0
    d = resample(df, "D")
    assert d.index[0] == pd.Timestamp("2025-06-15", tz="UTC")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2, 3, 5]), max_size=40), st.booleans(), st.randoms())
def test_infer_interval_matches_the_unique_count_definition(steps: list[int], shuffle: bool, rnd: Any) -> None:
    """The fast paths (sorted input, gap-free spacing) give np.unique's answer: the most common spacing,
    the smallest on a tie."""
    ts = np.cumsum(np.array(steps, dtype=np.int64)) * 60_000
    if shuffle:
        rnd.shuffle(ts)
    diffs = np.diff(np.unique(ts))
    want = None
    if diffs.size:
        values, counts = np.unique(diffs, return_counts=True)
        want = int(values[np.argmax(counts)])
    assert infer_interval_ms(ts) == want
