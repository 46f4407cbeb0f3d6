"""A bus listener that keeps every event the core emits, for tests to read back (moved here from
tradebot/events.py: nothing in the bot uses it)."""

from __future__ import annotations

from typing import Any

from tradebot.events import Event


class Recorder:
    """A listener that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]
