"""SQLModel tables of the journal: signals, confirmations, orders, trades, funding, bot state, outbox, audit, locks."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, text
from sqlmodel import Field, SQLModel

from storage.types import JSONValue, Money, UTCDateTime
from tradebot.states import StopMove
from tradebot.timeutil import utcnow

# 1: the first release (create_all, no Alembic). 2: Alembic-managed (storage/migrations); a release that
# still speaks 1 refuses a journal marked 2 instead of running against columns it does not know.
SCHEMA_VERSION = 2

SIDES = ("Buy", "Sell")
CONFIRMATION_STATUSES = ("pending", "approved", "executing", "executed", "rejected", "expired", "failed", "stale")
ORDER_PURPOSES = ("entry", "close", "protect")
# Bybit orderStatus values after which an order can no longer fill.
TERMINAL_ORDER_STATUSES = ("Filled", "Cancelled", "Rejected", "PartiallyFilledCanceled", "Deactivated")
TRADE_STATUSES = ("open", "closed")
CLOSE_REASONS = ("take_profit", "stop_loss", "trailing_stop", "liquidation", "adl", "manual", "unknown",
                 "breakeven_stop", "unprotected")  # stop_loss rows written before breakeven_stop existed are named by their stop history
OUTBOX_STATUSES = ("pending", "sent", "failed")
ORIGINS = ("signal", "manual")  # where a card or trade came from: the strategy's signal, or /long and /short
BOT_MODES = ("auto", "confirm")
UNKNOWN_DECISIONS = ("adopt", "close", "ignore")
# a card's live buttons; an /optimize result; a decided card; which card is the live one for a subject ("uk:SYMBOL")
PENDING_KINDS = ("button", "proposal", "decided", "cardof")
ALERT_REASON_LENGTH = 40  # a protection alert is remembered by the first 40 characters of its reason


def new_confirmation_id() -> str:
    """Opaque 11-char URL-safe id, short enough for Telegram callback data."""
    return secrets.token_urlsafe(8)


def _money(*, nullable: bool = False, default: Decimal | None = None) -> Any:
    return Field(default=default, sa_column=Column(Money(), nullable=nullable))


def _money_opt() -> Any:
    return _money(nullable=True, default=None)


def _time(*, nullable: bool = False, index: bool = False, now_default: bool = False) -> Any:
    col: Column[datetime] = Column(UTCDateTime(), nullable=nullable, index=index)
    if now_default:
        return Field(default_factory=utcnow, sa_column=col)
    return Field(default=None, sa_column=col)


def _bigint(*, nullable: bool = True, index: bool = False) -> Any:
    """Telegram user/chat/message ids exceed 32 bits."""
    return Field(default=None, sa_column=Column(BigInteger(), nullable=nullable, index=index))


def _json(*, nullable: bool = True, factory: Any = None) -> Any:
    col: Column[Any] = Column(JSONValue(), nullable=nullable)
    if factory is not None:
        return Field(default_factory=factory, sa_column=col)
    return Field(default=None, sa_column=col)


class SchemaVersion(SQLModel, table=True):
    """One row per schema version applied by :func:`storage.db.init_db`."""

    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    applied_at: datetime = _time(now_default=True)


class SignalRecord(SQLModel, table=True):
    """A strategy evaluation on a closed bar, with its score breakdown."""

    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(max_length=32, index=True)
    time: datetime = _time(index=True)
    price: Decimal = _money()
    action: str = Field(max_length=16)
    score: float
    threshold: float
    atr: Decimal | None = _money_opt()
    breakdown: dict[str, Any] | None = _json()
    created_at: datetime = _time(now_default=True)


class Confirmation(SQLModel, table=True):
    """A trade card waiting for a human decision; ``id`` is used as Telegram callback data."""

    id: str = Field(default_factory=new_confirmation_id, primary_key=True, max_length=32)
    signal_id: int | None = Field(default=None, foreign_key="signalrecord.id")
    symbol: str = Field(max_length=32, index=True)
    side: str = Field(max_length=4)
    qty: Decimal = _money()
    price: Decimal = _money()
    sl: Decimal | None = _money_opt()
    tp: Decimal | None = _money_opt()
    risk_usdt: Decimal | None = _money_opt()
    status: str = Field(default="pending", max_length=16, index=True)
    created_at: datetime = _time(now_default=True)
    expires_at: datetime = _time(index=True)
    decided_by: int | None = _bigint()
    decided_at: datetime | None = _time(nullable=True)
    chat_id: int | None = _bigint()
    message_id: int | None = _bigint()
    order_link_id: str | None = Field(default=None, max_length=64)
    result_text: str | None = None
    origin: str = Field(default="signal", max_length=8, sa_column_kwargs={"server_default": "signal"})


class OrderRecord(SQLModel, table=True):
    """An order the bot sent (or found); ``order_link_id`` is our idempotency key at Bybit."""

    id: int | None = Field(default=None, primary_key=True)
    order_link_id: str = Field(max_length=64, unique=True)
    order_id: str | None = Field(default=None, max_length=64, index=True)
    symbol: str = Field(max_length=32, index=True)
    side: str = Field(max_length=4)
    order_type: str = Field(max_length=16)
    qty: Decimal = _money()
    price: Decimal | None = _money_opt()
    reduce_only: bool = False
    purpose: str = Field(max_length=16)
    status: str = Field(default="Sent", max_length=32, index=True)
    avg_price: Decimal | None = _money_opt()
    cum_exec_qty: Decimal = _money(default=Decimal(0))
    fee: Decimal = _money(default=Decimal(0))
    confirmation_id: str | None = Field(default=None, foreign_key="confirmation.id", max_length=32)
    trade_id: int | None = Field(default=None, foreign_key="traderecord.id")
    created_at: datetime = _time(now_default=True)
    updated_at: datetime = _time(now_default=True)
    error: str | None = None


class TradeRecord(SQLModel, table=True):
    """One position lifecycle, from entry fill to close; at most one open trade per symbol.

    ``qty`` follows the position as it is reduced or added to on the exchange (closed: the whole qty closed, as
    ``exit_qty``); ``entry_qty`` is what it opened with
    (the entry fill, or the size when adopted; None on rows from before it existed: ``qty``). The close is journaled
    once the exchange's closed-pnl rows cover ``entry_qty`` plus every add, and ``exit_qty``, ``exit_price``,
    ``pnl``, the fees and funding are then those of the whole trade. ``adopted_at``: for an adopted position, the
    exchange time from which its records are the trade's (just after the position's last change before adoption).
    """

    __table_args__ = (
        Index(
            "uq_traderecord_open_symbol",
            "symbol",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(max_length=32, index=True)
    side: str = Field(max_length=4)
    qty: Decimal = _money()
    entry_qty: Decimal | None = _money_opt()
    entry_price: Decimal = _money()
    entry_time: datetime = _time()
    entry_fee: Decimal = _money(default=Decimal(0))
    entry_order_link_id: str | None = Field(default=None, max_length=64)
    sl: Decimal | None = _money_opt()
    tp: Decimal | None = _money_opt()
    trailing_distance: Decimal | None = _money_opt()
    trailing_active_price: Decimal | None = _money_opt()
    best_price: Decimal | None = _money_opt()
    atr: Decimal | None = _money_opt()  # ATR at entry: break-even and trailing distances
    breakeven_done: bool = False
    stop_history: list[dict[str, Any]] = _json(nullable=False, factory=list)
    status: str = Field(default="open", max_length=8, index=True)
    exit_price: Decimal | None = _money_opt()
    exit_time: datetime | None = _time(nullable=True, index=True)
    exit_qty: Decimal | None = _money_opt()
    exit_fee: Decimal = _money(default=Decimal(0))
    funding_fee: Decimal = _money(default=Decimal(0))
    pnl: Decimal | None = _money_opt()
    reason: str | None = Field(default=None, max_length=16)
    adopted: bool = False
    adopted_at: datetime | None = _time(nullable=True)
    exit_order_id: str | None = Field(default=None, max_length=64, unique=True)
    signal_id: int | None = Field(default=None, foreign_key="signalrecord.id")
    confirmation_id: str | None = Field(default=None, foreign_key="confirmation.id", max_length=32)
    origin: str = Field(default="signal", max_length=8, sa_column_kwargs={"server_default": "signal"})

    @property
    def stop_moves(self) -> list[StopMove]:
        """``stop_history`` read as typed records, oldest first."""
        return StopMove.history(self.stop_history)


class FundingRecord(SQLModel, table=True):
    """One funding settlement from the execution list; ``fee`` > 0 means we paid."""

    id: int | None = Field(default=None, primary_key=True)
    exec_id: str = Field(max_length=64, unique=True)
    symbol: str = Field(max_length=32, index=True)
    fee: Decimal = _money()
    time: datetime = _time(index=True)


class ChatSettings(SQLModel, table=True):
    """What the chat changed on top of the config: pause, mode, risk %, dotted-path overrides, the loss-streak reset,
    the watch list (/symbols).

    One row (``id`` 1), updated in place; None/empty means "as the config says". Retention: kept for ever.
    """

    id: int = Field(default=1, sa_column=Column(Integer, primary_key=True, autoincrement=False))
    paused: bool = False
    mode: str | None = Field(default=None, max_length=8)
    risk_pct: Decimal | None = _money_opt()
    overrides: dict[str, Any] = _json(nullable=False, factory=dict)
    losses_reset_at: datetime | None = _time(nullable=True)
    symbols: list[str] | None = _json()  # the watch list as /symbols left it; None: the config's
    updated_at: datetime = _time(now_default=True)


class DayMark(SQLModel, table=True):
    """The first equity seen on a (market-clock) day: the daily-loss limit's base.

    Written once per day. Retention: days more than 7 days before ``prune``'s day are deleted.
    """

    day: date = Field(primary_key=True)
    start_equity: Decimal = _money()
    recorded_at: datetime = _time(now_default=True)


class SeenBar(SQLModel, table=True):
    """The newest closed bar seen per symbol, so a bar's signal is journaled once across restarts.

    One row per symbol, moved forward in place. Retention: a symbol whose last bar is over 30 days old is deleted.
    """

    symbol: str = Field(primary_key=True, max_length=32)
    bar_time: datetime = _time()


class ProtectionAlert(SQLModel, table=True):
    """A protection (daily loss, loss streak...) already announced on ``day``: it is announced once a day.

    Retention: days before yesterday (of ``prune``'s day) are deleted.
    """

    day: date = Field(primary_key=True)
    reason: str = Field(primary_key=True, max_length=ALERT_REASON_LENGTH)
    created_at: datetime = _time(now_default=True)


class UnknownPosition(SQLModel, table=True):
    """An exchange position the journal did not open: when it was first seen, its size, and the decision taken.

    Replaced whenever the size changes. Retention: an undecided or ignored position stays (the sync needs it while
    the position is open; at most one row per symbol); an adopted or closed one is deleted a day after the decision.
    """

    symbol: str = Field(primary_key=True, max_length=32)
    first_seen: datetime | None = _time(nullable=True)
    size: Decimal = _money()
    decision: str | None = Field(default=None, max_length=8)
    updated_at: datetime = _time(now_default=True)


class PendingAction(SQLModel, table=True):
    """A single-use token behind a card's buttons (``kind`` "button": the actions its buttons may take, the chats
    it was sent to, what it acts on), the same card once decided ("decided": that payload plus the decision, who
    took it and in which chat), or an /optimize result awaiting Apply ("proposal": symbol, changes); ``token`` is
    what the chat carries. A "cardof" row is keyed by a subject instead (``uk:SYMBOL``): the token of the live card
    about it (an unknown position's, so the default applied by the tick decides it and edits its copies).

    Retention: a decided card is kept a day (so a late tap hears who decided what); every row goes by ``prune``
    once ``expires_at`` has passed (expired ones count as absent).
    """

    token: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=8)
    payload: dict[str, Any] = _json(nullable=False, factory=dict)
    expires_at: datetime = _time(index=True)
    created_at: datetime = _time(now_default=True)


class Heartbeat(SQLModel, table=True):
    """A liveness mark read by ``bot.py health``: "tick" (the trading loop's last tick) and "chat" (the chat side's
    last sign of life; ``detail`` is polling or webhook).

    A fixed few names, updated in place. Retention: kept for ever.
    """

    name: str = Field(primary_key=True, max_length=32)
    at: datetime = _time()
    detail: str | None = Field(default=None, max_length=32)
    updated_at: datetime = _time(now_default=True)


class OutboxMessage(SQLModel, table=True):
    """A Telegram message to deliver, retried until sent; survives restarts."""

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = _bigint(nullable=False)
    kind: str = Field(max_length=32)
    text: str
    parse_mode: str | None = Field(default=None, max_length=16)
    reply_markup: dict[str, Any] | None = _json()
    photo: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    status: str = Field(default="pending", max_length=8, index=True)
    attempts: int = 0
    next_attempt_at: datetime = _time(index=True)
    created_at: datetime = _time(now_default=True)
    sent_at: datetime | None = _time(nullable=True)
    last_error: str | None = None
    confirmation_id: str | None = Field(default=None, foreign_key="confirmation.id", max_length=32)
    sent_message_id: int | None = _bigint()


class AuditLog(SQLModel, table=True):
    """Every incoming Telegram update the bot acted on (or refused)."""

    id: int | None = Field(default=None, primary_key=True)
    time: datetime = _time(now_default=True)
    user_id: int | None = _bigint(index=True)
    chat_id: int | None = _bigint()
    update_kind: str = Field(max_length=16)
    action: str = Field(max_length=64)
    args: str | None = None
    allowed: bool
    result: str | None = None


class InstanceLock(SQLModel, table=True):
    """Single-instance lock with a heartbeat; ``owner`` is ``host:pid:uuid``."""

    name: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=200)
    acquired_at: datetime = _time()
    heartbeat_at: datetime = _time()
