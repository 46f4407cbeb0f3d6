"""The CSV caches ``bot.py download`` keeps (candles, funding rates): rows keyed by their time (the first
column, an integer), read as the exact strings written and rewritten atomically."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def read_rows(path: Path, headers: Sequence[tuple[str, ...]], what: str,
              row: Callable[[list[str]], T]) -> dict[int, T]:
    """``row(r)`` for every row, keyed by its first column; empty when the file does not exist or is empty.
    The header's first columns (lower case, stripped) must be one of ``headers``, else ValueError: ``path``
    is not a ``what``."""
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return {}
        if tuple(h.strip().lower() for h in header[:len(headers[0])]) not in headers:
            raise ValueError(f"{path}: not a {what} (header {header})")
        return {int(r[0]): row(r) for r in reader if r}


def write_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """``header`` then ``rows`` (oldest first), atomically: a crash never leaves a half-written cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow(r)
    os.replace(tmp, path)
