"""Stream fault injection: dropped connections, delayed or lost messages, refused auth, a stream that is down."""

from __future__ import annotations

from dataclasses import dataclass, field

from .faults import FaultSettings

KINDS = ("drop", "lose", "refuse_auth")


@dataclass
class StreamFaults(FaultSettings):
    """Same style as the REST :class:`~proving.sim.faults.Faults` (``POST /sim/stream-faults``; ``{}`` clears).

    Per outgoing data message: ``drop_prob`` closes the connection abruptly instead of sending it (the
    message is lost with it), ``lose_prob`` silently skips it, ``delay_ms`` (with ``delay_prob``, 0 = always)
    holds it back (order is kept). ``refuse_auth`` answers every auth with ``success: false``; ``down`` refuses
    new connections (HTTP 503) and cuts the open ones. ``next_n`` forces a kind for the next N occasions
    (``drop``/``lose`` on data messages, ``refuse_auth`` on auths). ``latency_ms`` holds back every outgoing
    message, replies (acks, pongs) included, like the network between a client and Bybit. ``paths`` limits everything to
    ``/v5/private`` or ``/v5/public/linear``; ``topics`` limits drop/lose/delay to those topic prefixes.
    """

    KINDS = KINDS
    LABEL = "stream fault"

    drop_prob: float = 0.0
    lose_prob: float = 0.0
    delay_ms: float = 0.0
    delay_prob: float = 0.0
    refuse_auth: bool = False
    latency_ms: float = 0.0
    down: bool = False
    topics: list[str] = field(default_factory=list)

    def _applies(self, path: str) -> bool:
        return not self.paths or path in self.paths

    def _forced(self, kind: str) -> bool:
        if self.next_n.get(kind, 0) > 0:
            self.next_n[kind] -= 1
            return True
        return False

    def latency(self, path: str) -> float:
        """Seconds every outgoing message on ``path`` waits (0 = none)."""
        return self.latency_ms / 1000 if self.latency_ms and self._applies(path) else 0.0

    def is_down(self, path: str) -> bool:
        return self.down and self._applies(path)

    def refuse(self, path: str) -> bool:
        return self._applies(path) and (self._forced("refuse_auth") or self.refuse_auth)

    def on_message(self, path: str, topic: str) -> tuple[str | None, float]:
        """For one data message: (None | "drop" | "lose", delay in seconds)."""
        if not self._applies(path) or (self.topics and not topic.startswith(tuple(self.topics))):
            return None, 0.0
        delay = 0.0
        if self.delay_ms and (self.delay_prob <= 0 or self._rng.random() < self.delay_prob):
            delay = self.delay_ms / 1000
        for kind in ("drop", "lose"):
            if self._forced(kind) or self._rng.random() < getattr(self, f"{kind}_prob"):
                return kind, delay
        return None, delay
