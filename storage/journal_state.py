"""The Journal's state and operations parts: settings and marks kept across restarts, audit, lock, heartbeats."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Unpack

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage import runtime, state, trades
from storage.db import session_scope
from storage.models import ChatSettings, Heartbeat, UnknownPosition
from storage.state import SettingsChanges
from storage.worker import Part

log = logging.getLogger("storage.journal")


class State(Part):
    """Settings and marks: the settings row, day-start equity, bars seen, alerts sent, unknown positions, pending
    button actions and heartbeats (typed tables, see storage/state.py for each one's retention rule)."""

    async def settings(self) -> ChatSettings:
        return await self._call(state.load_settings)

    async def save_settings(self, now: datetime, **changes: Unpack[SettingsChanges]) -> ChatSettings:
        """Set the given fields of the settings row (the others keep theirs); returns the row as saved."""
        def work(s: Session) -> ChatSettings:
            state.save_settings(session=s, now=now, **changes)
            return state.load_settings(session=s)
        return await self._run(work)

    async def day_start(self, day: date) -> Decimal | None:
        return await self._call(state.day_start_equity, day=day)

    async def record_day_start(self, day: date, equity: Decimal, now: datetime) -> None:
        """The first equity seen on ``day`` (the daily-loss limit's base); kept once. A new day applies the
        retention rules, on the clock the rows were written with (the market's: a replayed past stays whole)."""
        def work(s: Session) -> None:
            if state.record_day_start(session=s, day=day, equity=equity, now=now):
                pruned = state.prune(session=s, now=datetime.combine(day, time(), UTC))
                log.debug("journal state pruned at the start of %s: %s", day, pruned)
        await self._run(work)

    async def new_bar(self, symbol: str, bar_time: datetime) -> bool:
        """True (and remembered) the first time a closed bar of ``symbol`` is seen."""
        return await self._call(state.new_bar, symbol=symbol, bar_time=bar_time)

    async def first_alert(self, day: date, reason: str, now: datetime) -> bool:
        """True (and remembered) the first time this protection reason alerts on ``day``."""
        return await self._call(state.first_alert, day=day, reason=reason, now=now)

    async def unknown(self, symbol: str) -> UnknownPosition | None:
        return await self._call(state.unknown_position, symbol=symbol)

    async def see_unknown(self, symbol: str, size: Decimal, first_seen: datetime) -> None:
        """A position the journal does not know, first seen (at this size) at ``first_seen``; nothing decided."""
        await self._call(state.set_unknown_position, symbol=symbol, size=size, first_seen=first_seen)

    async def decide_unknown(self, symbol: str, size: Decimal, decision: str) -> bool:
        """Remember the decision on an unknown position; False (nothing kept) if the bot already manages one."""
        def work(s: Session) -> bool:
            if trades.get_open_trade(session=s, symbol=symbol) is not None:
                return False
            state.set_unknown_position(session=s, symbol=symbol, size=size, decision=decision)
            return True
        return await self._run(work)

    async def keep_unknown_decision(self, symbol: str, size: Decimal, decision: str) -> None:
        """Remember a decision on an unknown position that must wait (the trade it replaced is not journaled yet)."""
        def work(s: Session) -> None:
            seen = state.unknown_position(session=s, symbol=symbol)
            state.set_unknown_position(session=s, symbol=symbol, size=size, decision=decision,
                                       first_seen=seen.first_seen if seen is not None else None)
        await self._run(work)

    async def put_action(self, kind: str, token: str, payload: dict[str, Any], expires: datetime) -> None:
        """Keep what a button will do (``kind``: button or proposal) until ``expires``."""
        await self._call(state.put_pending, token=token, kind=kind, payload=payload, expires_at=expires)

    async def peek_action(self, kind: str, token: str, now: datetime) -> dict[str, Any] | None:
        """The action's payload while fresh; None when unknown or expired."""
        return await self._call(state.peek_pending, token=token, kind=kind, now=now)

    async def decide_action(self, kind: str, token: str, record: dict[str, Any], now: datetime,
                            keep_until: datetime) -> bool:
        """Mark a live action decided (its payload becomes ``record``, kind "decided"); True for the one caller
        that did it, False when unknown, expired or decided already."""
        return await self._call(state.decide_pending, token=token, kind=kind, record=record, now=now,
                                keep_until=keep_until)

    async def beat(self, name: str, at: datetime, detail: str | None, now: datetime) -> None:
        await self._call(state.beat, name=name, at=at, detail=detail, now=now)


def read_heartbeats(db: Engine) -> dict[str, Heartbeat]:
    """Every heartbeat by name (for ``bot.py health``: a separate process, no event loop, no Journal)."""
    with session_scope(db) as s:
        return {row.name: row for row in s.exec(select(Heartbeat)).all()}


class Ops(Part):
    """Audit log and instance lock."""

    async def audit(self, *, kind: str, action: str, allowed: bool, user_id: int | None, chat_id: int | None,
                    args: str | None, result: str | None, now: datetime) -> None:
        await self._call(runtime.audit, update_kind=kind, action=action, allowed=allowed, user_id=user_id,
                         chat_id=chat_id, args=args, result=result, now=now)

    async def lock_heartbeat(self, name: str, owner: str, now: datetime) -> bool:
        """Refresh our instance lock; False: it is no longer ours."""
        return await self._call(runtime.heartbeat_lock, name=name, owner=owner, now=now)

    async def release_lock(self, name: str, owner: str) -> bool:
        return await self._call(runtime.release_lock, name=name, owner=owner)
