"""Fault injection: latency, HTTP 5xx, 10006, dropped connections and lost responses (seeded, per path)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

KINDS = ("http5xx", "rate_limit", "drop", "lost_response")


@dataclass
class FaultDecision:
    """What to do with one request: sleep ``latency_s`` first, then ``kind`` (None = answer normally)."""

    latency_s: float = 0.0
    kind: str | None = None
    status: int = 503
    json_body: bool = False


@dataclass
class FaultSettings:
    """What the REST and stream fault plans share: ``next_n`` counts keyed by :attr:`KINDS`, ``paths``, the
    ``seed`` and its private ``_rng``; ``configure``/``clear``/``as_dict`` over the public settings."""

    KINDS: ClassVar[tuple[str, ...]] = ()
    LABEL: ClassVar[str] = "fault"

    next_n: dict[str, int] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    seed: int = 0
    _rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def configure(self, **cfg: Any) -> None:
        """Replace the whole configuration; ``configure()`` with no arguments clears every fault."""
        unknown = set(cfg) - set(self._public())
        if unknown:
            raise ValueError(f"unknown {self.LABEL} keys: {sorted(unknown)}")
        bad = set(cfg.get("next_n", {})) - set(self.KINDS)
        if bad:
            raise ValueError(f"unknown next_n kinds: {sorted(bad)} (allowed: {list(self.KINDS)})")
        fresh = type(self)(**cfg)
        for name in self._public():
            setattr(self, name, getattr(fresh, name))
        self.next_n = {k: int(v) for k, v in self.next_n.items()}
        self._rng = random.Random(self.seed)

    def clear(self) -> None:
        self.configure()

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self._public()}

    def _public(self) -> list[str]:
        return [f.name for f in fields(self) if not f.name.startswith("_")]


@dataclass
class Faults(FaultSettings):
    """Fault configuration (same keys as POST /sim/faults). Faults never apply to /sim/* paths.

    ``*_prob`` fire at random (seeded); ``next_n`` forces a kind for the next N matching requests
    (e.g. ``{"lost_response": 1}``); ``paths`` limits everything to those request paths.
    ``closed_pnl_lag_ms``: a closed-pnl row booked while it is set is listed only that many wall-clock ms after the
    fill that made it (the position and the execution show the fill at once), or once the fault is cleared:
    Bybit's records are written asynchronously after the order is processed (order/order-list.mdx: "the data
    returned from this endpoint may delay").
    """

    KINDS = KINDS

    latency_ms: float = 0.0
    latency_prob: float = 0.0
    http5xx_prob: float = 0.0
    rate_limit_prob: float = 0.0
    drop_prob: float = 0.0
    lost_response_prob: float = 0.0
    lost_sleep_s: float = 0.0
    closed_pnl_lag_ms: float = 0.0  # a close's closed-pnl row shows on /v5/position/closed-pnl this much later

    def decide(self, path: str) -> FaultDecision:
        """Draw the fault (if any) for one request to ``path``."""
        out = FaultDecision()
        if path.startswith("/sim/") or (self.paths and path not in self.paths):
            return out
        if self.latency_ms and (self.latency_prob <= 0 or self._rng.random() < self.latency_prob):
            out.latency_s = self.latency_ms / 1000
        for kind in KINDS:
            if self.next_n.get(kind, 0) > 0:
                self.next_n[kind] -= 1
                out.kind = kind
                break
            if self._rng.random() < getattr(self, f"{kind}_prob"):
                out.kind = kind
                break
        if out.kind == "http5xx":
            out.status = self._rng.choice((502, 503))
            out.json_body = self._rng.random() < 0.5
        return out
