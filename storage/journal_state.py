"""The Journal's state and operations parts: settings and marks kept across restarts, audit, lock, heartbeats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import runtime, trades
from storage.db import session_scope
from storage.worker import Part


@dataclass(frozen=True)
class SettingsRow:
    """What the chat changed, kept across restarts (None: the config's value)."""

    paused: bool = False
    mode: str | None = None
    risk_pct: Decimal | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    losses_reset_at: datetime | None = None


@dataclass(frozen=True)
class UnknownSeen:
    """A position the journal does not know: when it was first seen, its size then, and the decision taken."""

    first_seen: datetime | None
    size: Decimal
    decision: str | None


@dataclass(frozen=True)
class Beat:
    """A heartbeat: when, and what (e.g. the chat's mode)."""

    at: datetime
    detail: str | None = None


class State(Part):
    """Settings and marks: the settings row, day-start equity, bars seen, alerts sent, unknown positions, pending
    button actions and heartbeats."""

    async def settings(self) -> SettingsRow:
        return await self._run(_load_settings)

    async def save_settings(self, row: SettingsRow, now: datetime) -> None:
        await self._run(lambda s: _save_settings(s, row, now))

    async def day_start(self, day: date) -> Decimal | None:
        raw = await self._run(lambda s: runtime.get_state(session=s, key=f"day_start:{day.isoformat()}"))
        return Decimal(str(raw)) if raw else None

    async def record_day_start(self, day: date, equity: Decimal, now: datetime) -> None:
        """The first equity seen on ``day`` (the daily-loss limit's base); kept once."""
        def work(s: Session) -> None:
            key = f"day_start:{day.isoformat()}"
            if runtime.get_state(session=s, key=key) is None:
                runtime.set_state(session=s, key=key, value=str(equity), now=now)
        await self._run(work)

    async def new_bar(self, symbol: str, bar_time: datetime, now: datetime) -> bool:
        """True (and remembered) the first time a closed bar of ``symbol`` is seen."""
        def work(s: Session) -> bool:
            key = f"last_bar:{symbol}"
            seen = runtime.get_state(session=s, key=key)
            if seen is not None and seen >= bar_time.isoformat():
                return False
            runtime.set_state(session=s, key=key, value=bar_time.isoformat(), now=now)
            return True
        return await self._run(work)

    async def first_alert(self, day: date, reason: str, now: datetime) -> bool:
        """True (and remembered) the first time this protection reason alerts on ``day``."""
        def work(s: Session) -> bool:
            key = f"protection_alert:{day.isoformat()}:{reason[:40]}"
            if runtime.get_state(session=s, key=key):
                return False
            runtime.set_state(session=s, key=key, value=True, now=now)
            return True
        return await self._run(work)

    async def unknown(self, symbol: str) -> UnknownSeen | None:
        def work(s: Session) -> UnknownSeen | None:
            info = runtime.get_state(session=s, key=f"unknown:{symbol}")
            if not info:
                return None
            first = info.get("first_seen")
            return UnknownSeen(datetime.fromisoformat(first) if first else None, Decimal(str(info["size"])),
                               info.get("decision"))
        return await self._run(work)

    async def see_unknown(self, symbol: str, seen: UnknownSeen) -> None:
        await self._run(lambda s: _put_unknown(s, symbol, seen))

    async def decide_unknown(self, symbol: str, size: Decimal, decision: str) -> bool:
        """Remember the decision on an unknown position; False (nothing kept) if the bot already manages one."""
        def work(s: Session) -> bool:
            if trades.get_open_trade(session=s, symbol=symbol) is not None:
                return False
            _put_unknown(s, symbol, UnknownSeen(None, size, decision))
            return True
        return await self._run(work)

    async def put_action(self, kind: str, token: str, payload: dict[str, Any], expires: datetime) -> None:
        """Keep what a button will do (``kind``: "btn" or "opt") until ``expires``."""
        value = {**payload, "expires": expires.isoformat()}
        await self._run(lambda s: runtime.set_state(session=s, key=f"{kind}:{token}", value=value))

    async def peek_action(self, kind: str, token: str, now: datetime) -> dict[str, Any] | None:
        """The action's payload while fresh; None when unknown or expired."""
        found = await self._run(lambda s: runtime.get_state(session=s, key=f"{kind}:{token}"))
        return _fresh(found, now)

    async def take_action(self, kind: str, token: str, now: datetime) -> dict[str, Any] | None:
        """The action's payload, consumed (only one taker wins); None when unknown, taken or expired."""
        def work(s: Session) -> Any:
            key = f"{kind}:{token}"
            payload = runtime.get_state(session=s, key=key)
            return payload if payload is not None and runtime.delete_state(session=s, key=key) else None
        return _fresh(await self._run(work), now)

    async def beat(self, name: str, at: datetime, detail: str | None, now: datetime) -> None:
        value = {"at": at.isoformat(), **({"mode": detail} if detail is not None else {})}
        await self._run(lambda s: runtime.set_state(session=s, key=f"heartbeat:{name}", value=value, now=now))


def read_heartbeats(db: Engine) -> dict[str, Beat]:
    """Every heartbeat by name (for ``bot.py health``: a separate process, no event loop, no Journal)."""
    out = {}
    with session_scope(db) as s:
        for key, value in runtime.all_state(session=s, prefix="heartbeat:").items():
            try:
                out[key.split(":", 1)[1]] = Beat(datetime.fromisoformat(value["at"]), value.get("mode"))
            except (TypeError, KeyError, ValueError):
                continue  # not a heartbeat this code wrote: treated as none
    return out


def _fresh(payload: Any, now: datetime) -> dict[str, Any] | None:
    if not isinstance(payload, dict) or datetime.fromisoformat(payload["expires"]) < now:
        return None
    return {k: v for k, v in payload.items() if k != "expires"}


def _put_unknown(s: Session, symbol: str, seen: UnknownSeen) -> None:
    runtime.set_state(session=s, key=f"unknown:{symbol}", value={
        "first_seen": seen.first_seen.isoformat() if seen.first_seen else "", "size": str(seen.size),
        "decision": seen.decision})


_SETTING_KEYS = {"paused": "paused", "mode": "mode", "risk_pct": "risk_pct", "overrides": "settings_override",
                 "losses_reset_at": "losses_reset_at"}


def _load_settings(s: Session) -> SettingsRow:
    raw = {name: runtime.get_state(session=s, key=key) for name, key in _SETTING_KEYS.items()}
    return SettingsRow(bool(raw["paused"]), raw["mode"], Decimal(str(raw["risk_pct"])) if raw["risk_pct"] else None,
                       dict(raw["overrides"] or {}),
                       datetime.fromisoformat(str(raw["losses_reset_at"])) if raw["losses_reset_at"] else None)


def _save_settings(s: Session, row: SettingsRow, now: datetime) -> None:
    values = {"paused": row.paused, "mode": row.mode, "risk_pct": str(row.risk_pct) if row.risk_pct else None,
              "overrides": row.overrides,
              "losses_reset_at": row.losses_reset_at.isoformat() if row.losses_reset_at else None}
    for name, key in _SETTING_KEYS.items():
        runtime.set_state(session=s, key=key, value=values[name], now=now)


class Ops(Part):
    """Audit log and instance lock."""

    async def audit(self, *, kind: str, action: str, allowed: bool, user_id: int | None, chat_id: int | None,
                    args: str | None, result: str | None, now: datetime) -> None:
        await self._run(lambda s: runtime.audit(session=s, update_kind=kind, action=action, allowed=allowed,
                                                user_id=user_id, chat_id=chat_id, args=args, result=result, now=now))

    async def lock_heartbeat(self, name: str, owner: str, now: datetime) -> bool:
        """Refresh our instance lock; False: it is no longer ours."""
        return await self._run(lambda s: runtime.heartbeat_lock(session=s, name=name, owner=owner, now=now))

    async def release_lock(self, name: str, owner: str) -> bool:
        return await self._run(lambda s: runtime.release_lock(session=s, name=name, owner=owner))
