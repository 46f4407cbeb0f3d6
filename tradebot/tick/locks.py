"""TradeLocks: one lock per symbol (a tick, an approval, a close) and one for entries across symbols."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class TradeLocks:
    """``symbol(s)`` serialises work on one symbol; ``entry`` serialises entries (max open positions)."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self._by_symbol: dict[str, asyncio.Lock] = {s: asyncio.Lock() for s in symbols}
        self.entry = asyncio.Lock()

    def symbol(self, symbol: str) -> asyncio.Lock:
        return self._by_symbol.setdefault(symbol, asyncio.Lock())
