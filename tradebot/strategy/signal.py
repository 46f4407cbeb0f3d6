"""The typed trading decision (`Signal`) and its per-indicator breakdown (`Vote`), JSON round-trippable."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

Action = Literal["BUY", "SELL", "HOLD"]
ACTIONS: tuple[Action, ...] = ("BUY", "SELL", "HOLD")


class Vote(NamedTuple):
    """One indicator's say: ``contribution = weight × vote``; abstained votes are 0 and say why in ``note``.

    An immutable typed record (a NamedTuple: built ~3× faster than a frozen dataclass, which matters on
    the live path that makes ~20 per signal).
    """

    name: str
    value: float | None
    vote: float
    weight: float
    contribution: float
    abstained: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        value = self.value if self.value is not None and math.isfinite(self.value) else None
        return {
            "name": self.name,
            "value": value,
            "vote": self.vote,
            "weight": self.weight,
            "contribution": self.contribution,
            "abstained": self.abstained,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vote:
        value = d.get("value")
        return cls(
            name=str(d["name"]),
            value=None if value is None else float(value),
            vote=float(d["vote"]),
            weight=float(d["weight"]),
            contribution=float(d["contribution"]),
            abstained=bool(d["abstained"]),
            note=str(d.get("note", "")),
        )


def decide(score: float, threshold: float) -> Action:
    """BUY when score ≥ threshold, SELL when score ≤ -threshold, else HOLD."""
    if score >= threshold:
        return "BUY"
    if score <= -threshold:
        return "SELL"
    return "HOLD"


@dataclass(frozen=True, slots=True)
class Signal:
    """Decision for one closed bar: ``time`` is the bar's open time (UTC), ``price`` its close."""

    symbol: str
    time: datetime
    price: Decimal
    action: Action
    score: float
    threshold: float
    atr: Decimal
    breakdown: tuple[Vote, ...]

    def top(self, n: int = 3) -> tuple[Vote, ...]:
        """The ``n`` votes with the largest |contribution| (ties keep breakdown order)."""
        return tuple(sorted(self.breakdown, key=lambda v: -abs(v.contribution))[: max(n, 0)])

    def vote(self, name: str) -> Vote | None:
        """The breakdown entry called ``name``, if any."""
        return next((v for v in self.breakdown if v.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (Decimals as strings, time as ISO-8601) for the journal and alerts."""
        return {
            "symbol": self.symbol,
            "time": self.time.isoformat(),
            "price": str(self.price),
            "action": self.action,
            "score": self.score,
            "threshold": self.threshold,
            "atr": str(self.atr),
            "breakdown": [v.to_dict() for v in self.breakdown],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signal:
        """Inverse of :meth:`to_dict`."""
        action = d["action"]
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
        time = datetime.fromisoformat(d["time"])
        if time.tzinfo is None:
            time = time.replace(tzinfo=UTC)
        return cls(
            symbol=str(d["symbol"]),
            time=time.astimezone(UTC),
            price=Decimal(str(d["price"])),
            action=action,
            score=float(d["score"]),
            threshold=float(d["threshold"]),
            atr=Decimal(str(d["atr"])),
            breakdown=tuple(Vote.from_dict(v) for v in d["breakdown"]),
        )
