"""Request-parameter parsing with Bybit-style 10001 errors, cursor pagination and time windows."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .exchange import ExchangeError

if TYPE_CHECKING:
    from .core import Simulator

LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
TRIGGER_BY = ("LastPrice", "MarkPrice", "IndexPrice")
Result = dict[str, Any]


def err(msg: str, code: int = 10001) -> ExchangeError:
    return ExchangeError(code, msg)


class Params:
    """Request parameters (query or JSON body) with Bybit-style 10001 validation errors."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.d = data

    def str(self, name: str, required: bool = False, default: str = "") -> str:
        v = self.d.get(name)
        if v is None or v == "":
            if required:
                raise err(f"Missing some parameters that must be filled in, {name}")
            return default
        return str(v)

    def dec(self, name: str, required: bool = False) -> Decimal | None:
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

    def int(self, name: str, default: int | None = None, lo: int | None = None, hi: int | None = None) -> int | None:
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

    def bool(self, name: str) -> bool:
        v = self.d.get(name, False)
        if isinstance(v, bool):
            return v
        if str(v).lower() in ("true", "1"):
            return True
        if str(v).lower() in ("false", "0", ""):
            return False
        raise err(f"params error: {name} invalid")

    def category(self, default: str | None = None) -> str:
        cat = self.str("category", required=default is None, default=default or "")
        if cat != "linear":
            raise err("Illegal category" if cat in ("spot", "inverse", "option") else "params error: category")
        return cat

    def symbol(self, sim: Simulator, required: bool = True, code_msg: str = "params error: symbol invalid") -> str:
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


def window(p: Params, ts: Callable[[Any], int], rows: list[Any]) -> list[Any]:
    lo, hi = p.int("startTime"), p.int("endTime")
    return [r for r in rows if (lo is None or ts(r) >= lo) and (hi is None or ts(r) <= hi)]
