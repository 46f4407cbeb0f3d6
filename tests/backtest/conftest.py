"""Backtest tests keep their Parquet candle cache in a temporary directory, never in the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

import tradebot.backtest.cache as cache


@pytest.fixture(autouse=True)
def _candle_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path_factory.mktemp("candle-cache")
    monkeypatch.setattr(cache, "CACHE_DIR", path)
    return path
