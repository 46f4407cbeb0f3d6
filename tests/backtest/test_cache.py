"""The Parquet candle cache: the second load skips the CSV, a changed file is re-read, a bad cache is ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import tradebot.backtest.cache as cache
from tradebot.backtest.data import load_candles
from tradebot.market import load_csv

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "BTCUSDT_5m.csv"


def _copy(tmp_path: Path, extra: str = "") -> Path:
    lines = SAMPLE.read_text().splitlines()
    # a duplicate and a gap, so the data-quality report has something to carry
    text = "\n".join([*lines[:50], lines[49], *lines[52:300]]) + "\n" + extra
    path = tmp_path / "BTCUSDT_5m.csv"
    path.write_text(text)
    return path


def test_second_load_comes_from_parquet_without_parsing_the_csv(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path, store = _copy(tmp_path), tmp_path / "cache"
    df, q, hit = cache.load_cached(path, store)
    assert not hit and len(list(store.glob("*.parquet"))) == 1
    assert q.duplicates and q.gaps

    def no_csv(_: object) -> None:
        raise AssertionError("the CSV was parsed again")

    monkeypatch.setattr(cache, "load_csv", no_csv)
    df2, q2, hit2 = cache.load_cached(path, store)
    assert hit2 and q2 == q
    pd.testing.assert_frame_equal(df2, df)
    pd.testing.assert_frame_equal(df2, load_csv(path)[0])
    lines: list[str] = []
    df3, _ = load_candles(path, report=lines.append, cache_dir=store)  # the backtest's loader uses it
    pd.testing.assert_frame_equal(df3, df)
    assert any("duplicate" in line for line in lines)


def test_a_changed_file_is_read_again_and_replaces_its_old_entry(tmp_path: Path) -> None:
    path, store = _copy(tmp_path), tmp_path / "cache"
    df, _, _ = cache.load_cached(path, store)
    old = list(store.glob("*.parquet"))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # one candle fewer
    os.utime(path, ns=(1, 1))
    df2, _, hit = cache.load_cached(path, store)
    assert not hit and len(df2) == len(df) - 1
    entries = list(store.glob("*.parquet"))
    assert len(entries) == 1 and entries != old


def test_an_unreadable_cache_entry_falls_back_to_the_csv(tmp_path: Path) -> None:
    path, store = _copy(tmp_path), tmp_path / "cache"
    cache.load_cached(path, store)
    (entry,) = store.glob("*.parquet")
    entry.write_bytes(b"not parquet")
    df, _, hit = cache.load_cached(path, store)
    assert not hit
    pd.testing.assert_frame_equal(df, load_csv(path)[0])
    assert cache.load_cached(path, store)[2]  # rewritten


def test_an_unwritable_cache_still_loads(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    df, _, hit = cache.load_cached(path, blocker / "cache")  # cannot mkdir under a file
    assert not hit and len(df)
