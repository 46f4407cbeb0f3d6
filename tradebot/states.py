"""Typed states the journal and the chat read as plain words (str enums: stored values are unchanged)."""

from __future__ import annotations

from enum import StrEnum


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


class ExitReason(StrEnum):
    """Why a position closed, read from the closing executions (``TradeRecord.exit_reason``)."""

    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    BREAKEVEN_STOP = "breakeven_stop"
    LIQUIDATION = "liquidation"
    ADL = "adl"
    MANUAL = "manual"
    UNKNOWN = "unknown"

    @classmethod
    def of_stop(cls, last_move: str | None) -> ExitReason:
        """A stop-loss fill named by the stop's last move ("breakeven", "trailing"; none: the initial stop)."""
        return {"trailing": cls.TRAILING_STOP, "breakeven": cls.BREAKEVEN_STOP}.get(last_move or "", cls.STOP_LOSS)


# Outcomes after which a confirmation card shows its result (the rest: someone else decided already).
DECIDED = frozenset({OutcomeStatus.EXECUTED, OutcomeStatus.FAILED, OutcomeStatus.STALE, OutcomeStatus.REJECTED,
                     OutcomeStatus.EXPIRED, OutcomeStatus.EXECUTING})
