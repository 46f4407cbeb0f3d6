"""Parquet cache of parsed candle files (pyarrow): the second load of the same file skips CSV parsing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pandas as pd

from tradebot.market import DataQuality, Gap, load_csv

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)
CACHE_DIR = Path(__file__).resolve().parents[2] / "data" / "cache" / "candles"  # git-ignored
_META = b"tradebot.quality"
_NAME = b"tradebot.index_name"
_UNIT = b"tradebot.index_unit"
_INDEX = "__index__"
VERSION = 1  # bump when load_csv's output changes


def _names(path: Path, cache_dir: Path) -> tuple[Path, str]:
    """(cache file, prefix shared by every version of this source): keyed by absolute path, size and mtime."""
    src = str(path.resolve())
    st = path.stat()
    prefix = hashlib.sha256(src.encode()).hexdigest()[:16]
    key = hashlib.sha256(f"{VERSION}|{src}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir / f"{path.stem}-{prefix}-{key}.parquet", f"{path.stem}-{prefix}-"


def _quality_json(q: DataQuality) -> bytes:
    def enc(o: object) -> object:
        if isinstance(o, datetime):
            return o.isoformat()
        raise TypeError(type(o).__name__)

    return json.dumps(asdict(q), default=enc).encode()


def _quality(raw: bytes) -> DataQuality:
    d = json.loads(raw)
    when = datetime.fromisoformat
    return DataQuality(rows=d["rows"], interval_ms=d["interval_ms"],
                       duplicates=tuple(when(x) for x in d["duplicates"]),
                       gaps=tuple(Gap(when(g["start"]), when(g["end"]), g["missing"]) for g in d["gaps"]),
                       unsorted=d["unsorted"], nan_rows=d["nan_rows"], ohlc_violations=d["ohlc_violations"])


def _arrow() -> tuple[ModuleType, ModuleType] | None:
    """(pyarrow, pyarrow.parquet), imported on first use; None where the process keeps pyarrow out (bot.py's
    long-running modes do, to save its memory): the cache is then skipped and the CSV parsed."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        return None
    return pyarrow, pyarrow.parquet


def _frame(table: pa.Table) -> pd.DataFrame:
    """The cached table back as load_csv's frame (UTC DatetimeIndex, float columns), without pandas metadata."""
    meta = table.schema.metadata or {}
    unit = meta[_UNIT].decode()
    index = pd.DatetimeIndex(table.column(_INDEX).to_numpy().view(f"datetime64[{unit}]"),
                             name=meta[_NAME].decode() or None).tz_localize("UTC")
    data = {c: table.column(c).to_numpy() for c in table.column_names if c != _INDEX}
    return pd.DataFrame(data, index=index)


def load_cached(path: str | Path, cache_dir: Path | None = None) -> tuple[pd.DataFrame, DataQuality, bool]:
    """``load_csv(path)`` through the cache: (frame, quality, whether it came from the cache).

    A changed file (size or mtime) gets a new entry and the old ones are removed. A cache that cannot be read
    or written is skipped with a log line: the CSV is the source of truth.
    """
    path = Path(path)
    arrow = _arrow()
    if arrow is None:
        df, q = load_csv(path)
        return df, q, False
    pa, pq = arrow
    cache_dir = cache_dir or CACHE_DIR
    target, prefix = _names(path, cache_dir)
    if target.exists():
        try:
            table = pq.read_table(target, memory_map=True)
            meta = table.schema.metadata or {}
            df = _frame(table)
            del table  # the frame holds copies: hand Arrow's buffers back now (~60 MB for a year of 1m)
            pa.default_memory_pool().release_unused()
            return df, _quality(meta[_META]), True
        except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
            log.warning("candle cache %s unreadable (%s); re-reading %s", target, exc, path)
    df, q = load_csv(path)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cols = {str(c): pa.array(df[c].to_numpy()) for c in df.columns}
        index = pd.DatetimeIndex(df.index)
        table = pa.table({_INDEX: pa.array(index.asi8), **cols})
        table = table.replace_schema_metadata({_META: _quality_json(q), _NAME: str(index.name or "").encode(),
                                               _UNIT: str(index.unit).encode()})
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        pq.write_table(table, tmp, compression="lz4", use_dictionary=False, write_statistics=False)
        os.replace(tmp, target)
        for old in cache_dir.glob(f"{prefix}*.parquet"):
            if old != target:
                old.unlink(missing_ok=True)
    except (OSError, pa.ArrowException) as exc:
        log.warning("candle cache %s not written: %s", target, exc)
    return df, q, False
