"""Outcome: what a user action came to — a typed status for logic, a text for the chat."""

from __future__ import annotations

from dataclasses import dataclass

from tradebot.states import OutcomeStatus


@dataclass(frozen=True)
class Outcome:
    """Result of a user action (approve, reject, close...): ``status`` for logic, ``text`` for the chat."""

    status: OutcomeStatus
    text: str
    confirmation_id: str | None = None
