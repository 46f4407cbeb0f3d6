"""``PaperExchange``: the in-process simulator as the bot holds it in paper mode and ``--demo``
(``proving.sim.Simulator``, which only ``wiring/`` builds), typed by what the bot does with it (replay in real time,
serve its streams, close), so nothing below ``wiring/`` imports ``proving/``."""

from __future__ import annotations

from typing import Protocol


class StreamServing(Protocol):
    """A running stream server: where it listens, and how to stop it."""

    url: str

    def close(self) -> None: ...


class PaperExchange(Protocol):
    """The simulator behind paper mode (``Deps.sim``; ``start_streams`` serves its streams)."""

    api_keys: dict[str, str]  # the simulator's own account (key → secret)

    def start_replay(self, speed: float) -> None: ...

    def serve_streams(self) -> StreamServing: ...

    def close(self) -> None: ...
