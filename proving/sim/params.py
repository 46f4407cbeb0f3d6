"""Request-parameter parsing with Bybit-style 10001 errors, cursor pagination and time windows."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from tradebot.side import Side

from .exchange import SimRejection
from .host import SimHost

LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
TRIGGER_BY = ("LastPrice", "MarkPrice", "IndexPrice")
Result = dict[str, Any]
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


def err(msg: str, code: int = 10001) -> SimRejection:
    return SimRejection(code, msg)


class Params:
    """Request parameters (query or JSON body) with Bybit-style 10001 validation errors.

    The methods ``str``, ``int`` and ``bool`` shadow the builtins in the class body, so the signatures that
    follow them spell the builtin types ``builtins.str`` etc."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.d = data

    def str(self, name: str, required: bool = False, default: str = "") -> str:
        v = self.d.get(name)
        if v is None or v == "":
            if required:
                raise err(f"Missing some parameters that must be filled in, {name}")
            return default
        return str(v)

    def dec(self, name: builtins.str, required: bool = False) -> Decimal | None:
        s = self.str(name, required)
        if not s:
            return None
        try:
            v = Decimal(s)
        except InvalidOperation:
            raise err(f"params error: {name} invalid") from None
        if not v.is_finite() or v < 0:
            raise err(f"params error: {name} invalid")
        return v

    def int(self, name: builtins.str, default: int | None = None, lo: int | None = None,
            hi: int | None = None) -> int | None:
        s = self.str(name)
        if not s:
            return default
        try:
            v = int(s)
        except ValueError:
            raise err(f"params error: {name} invalid") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise err(f"params error: {name} out of range [{lo}, {hi}]")
        return v

    def bool(self, name: builtins.str) -> bool:
        v = self.d.get(name, False)
        if isinstance(v, bool):
            return v
        if str(v).lower() in ("true", "1"):
            return True
        if str(v).lower() in ("false", "0", ""):
            return False
        raise err(f"params error: {name} invalid")

    def side(self) -> Side:
        """The required ``side`` as a Side: exactly "Buy" or "Sell", else 10001."""
        try:
            return Side(self.str("side", required=True))
        except ValueError:
            raise err("params error: side invalid") from None

    def category(self, default: builtins.str | None = None) -> builtins.str:
        cat = self.str("category", required=default is None, default=default or "")
        if cat != "linear":
            raise err("Illegal category" if cat in ("spot", "inverse", "option") else "params error: category")
        return cat

    def symbol(self, sim: SimHost, required: builtins.bool = True,
               code_msg: builtins.str = "params error: symbol invalid") -> builtins.str:
        sym = self.str("symbol", required)
        if sym and sym not in sim.feeds:
            raise err(code_msg)
        return sym


def page(rows: Sequence[Any], p: Params, default: int, hi: int) -> tuple[list[Any], str]:
    """Cursor pagination: the cursor is the offset of the next row; "" when no more pages."""
    limit = p.int("limit", default, 1, hi)
    assert limit is not None
    start = p.int("cursor", 0, 0) or 0
    chunk = list(rows[start:start + limit])
    return chunk, (str(start + limit) if start + limit < len(rows) else "")


def keyed_page(rows: Sequence[tuple[int, Any]], p: Params, default: int, hi: int) -> tuple[list[Any], str]:
    """Cursor pagination over ``(key, row)`` pairs sorted by key DESCENDING (newest first).

    The cursor is the key of the last row returned, and the next page holds the rows with a smaller key, so
    rows that arrive between two page requests (they get larger keys) never shift a row onto two pages.
    """
    limit = p.int("limit", default, 1, hi)
    assert limit is not None
    after = p.int("cursor")
    if after is not None:
        rows = [r for r in rows if r[0] < after]
    chunk = list(rows[:limit])
    return [r for _, r in chunk], (str(chunk[-1][0]) if len(rows) > limit else "")


def time_window(p: Params, now: int) -> tuple[int, int]:
    """``[startTime, endTime]`` by Bybit's 7-day rule (position/close-pnl.mdx, order/execution.mdx,
    order/order-list.mdx): neither → the last 7 days; only startTime → [start, start + 7 days]; only endTime →
    [end − 7 days, end]; both → endTime − startTime must be ≤ 7 days (else 10001)."""
    lo, hi = p.int("startTime", lo=0), p.int("endTime", lo=0)
    if lo is None and hi is None:
        return now - WEEK_MS, now
    if hi is None:
        assert lo is not None
        return lo, lo + WEEK_MS
    if lo is None:
        return hi - WEEK_MS, hi
    if lo > hi:
        raise err("params error: startTime needs to be smaller than endTime")
    if hi - lo > WEEK_MS:
        raise err("params error: The time range between startTime and endTime cannot exceed 7 days")
    return lo, hi


def window(p: Params, ts: Callable[[Any], int], rows: list[tuple[int, Any]], now: int) -> list[tuple[int, Any]]:
    """The ``(key, row)`` pairs whose time ``ts(row)`` lies in the request's 7-day window (:func:`time_window`)."""
    lo, hi = time_window(p, now)
    return [r for r in rows if lo <= ts(r[1]) <= hi]
