"""``Books``: the matching engine's state and moves as its helpers see them (the ledger, the cross-margin side and
Partial-mode TP/SL take it), a protocol that ``exchange.Exchange`` satisfies, so those helpers never import the
engine they serve (no import cycle, type-only imports included)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from tradebot.market_model.book import BookParams
from tradebot.market_model.instruments import Instrument

from .models import ClosedPnl, Execution, Fees, Order, Position
from .tpsl import StopOrders


class Books(Protocol):
    """What ``ledger``, ``liquidation`` and ``partial`` read and call on the engine (see ``exchange.Exchange``)."""

    instruments: dict[str, Instrument]
    clock: Callable[[], int]
    fees: Fees
    book: BookParams
    wallet: Decimal
    positions: dict[str, Position]
    last: dict[str, Decimal]
    mark: dict[str, Decimal]
    orders: dict[str, Order]
    executions: list[Execution]
    closed: list[ClosedPnl]
    stops: StopOrders
    visible_at: Callable[[], int]

    def new_id(self) -> str: ...

    def next_seq(self) -> int: ...

    def instrument(self, symbol: str) -> Instrument: ...

    def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    def crosses(self, order: Order) -> bool: ...

    def take(self, order: Order) -> None: ...

    def finish(self, order: Order, status: str, reason: str = "EC_NoError", cancel_type: str = "") -> None: ...

    def fill(self, order: Order, qty: Decimal, price: Decimal, is_maker: bool, exec_type: str = "Trade") -> None: ...

    def trigger(self, symbol: str, kind: str, level: Decimal, base: Decimal) -> None: ...
