"""The simulator as its parts see it: ``SimHost``, the protocol that the endpoint handlers, the router, the stream
publisher, the servers and the state file take instead of the ``Simulator`` facade (``core.py``). No module below
the facade imports it, type-only imports included, so the package has no import cycle; ``Simulator`` satisfies the
protocol, and mypy checks that wherever the facade hands itself to a part. Also the router's answer
(``RouteResult``), which the transports and the HTTP server act on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from tradebot.market_model.book import BookParams
from tradebot.market_model.feed import SymbolFeed

from .exchange import Exchange
from .faults import Faults
from .streamfaults import StreamFaults

Sink = Callable[[str, dict[str, Any]], None]  # (topic, message) — called with the simulator lock held


@dataclass
class RouteResult:
    """A routed request: ``action`` is "respond", "drop" (not executed, no answer) or "lost" (executed)."""

    status: int
    headers: dict[str, str]
    body: bytes
    delay_s: float = 0.0
    action: str = "respond"
    extra: dict[str, Any] = field(default_factory=dict)


class Dispatch(Protocol):
    """The router as the transports and the HTTP server use it."""

    def dispatch(self, method: str, path: str, raw_query: str, headers: dict[str, str], body: bytes
                 ) -> RouteResult: ...


class Stream(Protocol):
    """The stream publisher as the router and the WebSocket server use it."""

    sinks: list[Sink]
    wanted: Callable[[str], bool]

    def flush(self, moved: bool = False, closed: bool = False) -> None: ...

    def snapshot(self, topic: str) -> list[dict[str, Any]]: ...


class SimHost(Protocol):
    """What the simulator's parts read and call on it (see ``core.Simulator`` for each member)."""

    symbols: list[str]
    lock: threading.RLock
    api_keys: dict[str, str]
    rate_limits: bool
    funding_rate: Decimal
    account_settings: dict[str, Any]
    wall_ms: Callable[[], int]
    faults: Faults
    stream_faults: StreamFaults
    ws_url: str | None
    closed_pnl_hidden_from: int | None
    book: BookParams
    feeds: dict[str, SymbolFeed]
    exchange: Exchange

    @property
    def router(self) -> Dispatch: ...

    @property
    def publisher(self) -> Stream: ...

    def market_time(self) -> int: ...

    def prices(self) -> dict[str, Decimal]: ...

    def set_price(self, symbol: str, price: Decimal | str, *, gap: bool = False) -> Decimal: ...

    def step(self, n: int = 1) -> int: ...

    def state(self) -> dict[str, Any]: ...

    def save(self) -> None: ...
