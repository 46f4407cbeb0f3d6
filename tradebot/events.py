"""Events the trading core emits (signal, confirmation, fill, stop moved, close, protection, error...).

The core never imports Telegram: the chat layer subscribes to an :class:`EventBus` and renders these.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from tradebot.intents import UnknownDecision
from tradebot.side import Side
from tradebot.states import AlertKind
from tradebot.strategy.signal import Signal

log = logging.getLogger("tradebot.events")


@dataclass(frozen=True)
class Event:
    """Base class; ``kind`` names the alert type (one of the [bot.alerts] switches), set by each event."""

    kind: ClassVar[AlertKind]


@dataclass(frozen=True)
class SignalEvent(Event):
    """A BUY/SELL signal on a new bar, with what came of it: ``not_traded`` says why no card or entry follows
    (None: a card or an entry follows)."""

    signal: Signal
    not_traded: str | None = None
    kind = "signal"


@dataclass(frozen=True)
class ConfirmationNeeded(Event):
    """A tradeable signal waiting for Approve/Reject; ``confirmation_id`` is the only thing put in buttons."""

    confirmation_id: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    sl: Decimal
    tp: Decimal
    risk_usdt: Decimal
    risk_pct: Decimal
    reward_risk: Decimal
    liq_price: Decimal | None  # cross-margin ESTIMATE; 0: none (the wallet covers a fall to 0); None: unknown
    notional: Decimal
    signal: Signal
    expires_at: datetime
    replaces: str | None = None  # a stale confirmation this one re-asks
    fees_usdt: Decimal = Decimal(0)  # round-trip taker fees if the stop is hit (inside risk_usdt)
    fee_rate: Decimal = Decimal(0)  # the taker rate used
    risk_base: str = "available balance"  # what risk_pct is a % of
    entry_fee_rate: Decimal | None = None  # the entry's rate sized with (maker first: the maker rate)
    maker: bool = False  # maker first: a PostOnly entry and a limit take-profit
    manual_by: str | None = None  # a manual card (/long, /short): who asked for it ("": a re-ask)
    capped: bool = False  # the size was limited by balance × leverage (margin), max_position_pct or max order qty
    asked_pct: Decimal | None = None  # the risk % /risk asks for (risk_pct is what the capped size risks)
    kind = "signal"


@dataclass(frozen=True)
class EntryFilled(Event):
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    sl: Decimal | None
    tp: Decimal | None
    trade_id: int
    confirmation_id: str | None
    trailing_distance: Decimal | None = None
    trailing_active_price: Decimal | None = None
    kind = "filled"


@dataclass(frozen=True)
class EntryFailed(Event):
    symbol: str
    side: Side
    reason: str
    confirmation_id: str | None
    kind = "error"


@dataclass(frozen=True)
class StopMoved(Event):
    symbol: str
    side: Side
    old_sl: Decimal | None
    new_sl: Decimal
    reason: str  # breakeven | trailing | protect
    price: Decimal
    kind = "stop_moved"


@dataclass(frozen=True)
class PositionClosed(Event):
    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal
    fees: Decimal
    reason: str  # an ExitReason: take_profit | stop_loss | breakeven_stop | trailing_stop | ... | unprotected
    trade_id: int
    funding: Decimal | None = None  # funding paid (+) while holding; like the fees it is already inside pnl
    kind = "closed"


@dataclass(frozen=True)
class UnknownPosition(Event):
    """A position the journal does not know (opened by hand): Adopt / Close / Ignore."""

    symbol: str
    side: Side
    size: Decimal
    avg_price: Decimal
    default_action: str
    decide_by: datetime
    kind = "protection"


@dataclass(frozen=True)
class UnknownDefaulted(Event):
    """Nobody answered an unknown position's card in time: the default (``[bot] unknown_position_action``) was
    applied by the tick; ``outcome``: what it came to. The card's copies show it, their buttons gone."""

    symbol: str
    size: Decimal
    decision: UnknownDecision
    outcome: str
    kind = "protection"


@dataclass(frozen=True)
class ProtectionTripped(Event):
    reason: str
    resume_at: datetime | None
    kind = "protection"


@dataclass(frozen=True)
class ErrorEvent(Event):
    """Something a human should know; ``symbol`` empty for account-wide problems."""

    message: str
    symbol: str = ""
    critical: bool = False
    kind = "error"


@dataclass(frozen=True)
class Lifecycle(Event):
    message: str  # started / paused / resumed / stopped ...
    origin: str | None = None  # the chat that asked for it (already answered there): an opaque id
    kind = "lifecycle"


@dataclass(frozen=True)
class Health(Event):
    message: str
    kind = "health"


Listener = Callable[[Event], Awaitable[None] | None]


@dataclass
class EventBus:
    """Fan-out to subscribers; a failing subscriber is logged and never breaks trading."""

    listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    async def emit(self, event: Event) -> None:
        for listener in list(self.listeners):
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("event listener failed on %s", type(event).__name__)


@dataclass(frozen=True)
class ConfirmationExpired(Event):
    confirmation_id: str
    symbol: str
    kind = "signal"
