"""Typed states the journal and the chat read as plain words (str enums: stored values are unchanged)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

# The alert type an event is pushed as: one ``[bot.alerts]`` switch each (``AlertSettings.on``, ``Event.kind``).
AlertKind = Literal["signal", "filled", "stop_moved", "closed", "protection", "error", "lifecycle", "health"]


class TradeMode(StrEnum):
    """How the bot acts on an entry signal (``[bot] mode``, /mode): trade on its own, or ask first with a card."""

    AUTO = "auto"
    CONFIRM = "confirm"


class OutcomeStatus(StrEnum):
    """What a user action (approve, reject, close, pause...) came to."""

    OK = "ok"
    NOOP = "noop"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    ALREADY = "already"
    STALE = "stale"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"
    REJECTED = "rejected"


class ConfirmationStatus(StrEnum):
    """A confirmation card's state in the journal (``Confirmation.status``)."""

    PENDING = "pending"
    APPROVED = "approved"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"
    STALE = "stale"
    REJECTED = "rejected"
    EXPIRED = "expired"


class CloseReason(StrEnum):
    """Why the bot sends a reduce-only close (part of its orderLinkId)."""

    MANUAL = "manual"
    UNPROTECTED = "unprotected"
    UNKNOWN_POSITION = "unknown"


class StopMoveReason(StrEnum):
    """Why a trade's stop was set or moved: each entry of its stop history (:class:`StopMove`)."""

    INITIAL = "initial"  # the entry's (or the adoption's) stop
    BREAKEVEN = "breakeven"
    TRAILING = "trailing"  # the bot's trailing walk
    MANUAL = "manual"  # /sl by hand


@dataclass(frozen=True, slots=True)
class StopMove:
    """One entry of a trade's stop history: when, the stop set, why, and who (a move by hand; the bot's: None).
    Kept in ``TradeRecord.stop_history`` as ``{time, sl, reason[, by]}``; ``time`` None: a row without it."""

    reason: StopMoveReason
    sl: Decimal | None = None
    time: datetime | None = None
    by: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"time": self.time, "sl": self.sl, "reason": self.reason.value}
        if self.by:
            out["by"] = self.by
        return out

    @classmethod
    def from_json(cls, row: Mapping[str, object]) -> StopMove:
        sl, time, by = row.get("sl"), row.get("time"), row.get("by")
        return cls(StopMoveReason(str(row.get("reason"))), None if sl is None else Decimal(str(sl)),
                   time if isinstance(time, datetime) else None, None if by is None else str(by))

    @classmethod
    def history(cls, rows: Iterable[Mapping[str, object]] | None) -> list[StopMove]:
        return [cls.from_json(r) for r in rows or ()]


class ExitReason(StrEnum):
    """Why a position closed, read from the closing executions (``TradeRecord.exit_reason``)."""

    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    BREAKEVEN_STOP = "breakeven_stop"
    LIQUIDATION = "liquidation"
    ADL = "adl"
    MANUAL = "manual"
    UNPROTECTED = "unprotected"  # closed by the bot because no stop-loss could be set
    UNKNOWN = "unknown"

    @classmethod
    def of_stop(cls, last_move: str | None) -> ExitReason:
        """A stop-loss fill named by the stop's last move ("breakeven", "trailing"; none: the initial stop)."""
        return {"trailing": cls.TRAILING_STOP, "breakeven": cls.BREAKEVEN_STOP}.get(last_move or "", cls.STOP_LOSS)


# Outcomes after which a confirmation card shows its result (the rest: someone else decided already).
DECIDED = frozenset({OutcomeStatus.EXECUTED, OutcomeStatus.FAILED, OutcomeStatus.STALE, OutcomeStatus.REJECTED,
                     OutcomeStatus.EXPIRED, OutcomeStatus.EXECUTING})
