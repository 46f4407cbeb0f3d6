"""The Journal's state and operations parts: settings and marks kept across restarts, audit, lock, heartbeats."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage import runtime, state, trades
from storage.db import session_scope
from storage.models import ChatSettings, Heartbeat, UnknownPosition
from storage.worker import Part

log = logging.getLogger("storage.journal")


class State(Part):
    """Settings and marks: the settings row, day-start equity, bars seen, alerts sent, unknown positions, pending
    button actions and heartbeats (typed tables, see storage/state.py for each one's retention rule)."""

    async def settings(self) -> ChatSettings:
        return await self._run(lambda s: state.load_settings(session=s))

    async def save_settings(self, now: datetime, **changes: Any) -> ChatSettings:
        """Set the given fields of the settings row (the others keep theirs); returns the row as saved."""
        def work(s: Session) -> ChatSettings:
            state.save_settings(session=s, now=now, **changes)
            return state.load_settings(session=s)
        return await self._run(work)

    async def day_start(self, day: date) -> Decimal | None:
        return await self._run(lambda s: state.day_start_equity(session=s, day=day))

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
        return await self._run(lambda s: state.new_bar(session=s, symbol=symbol, bar_time=bar_time))

    async def first_alert(self, day: date, reason: str, now: datetime) -> bool:
        """True (and remembered) the first time this protection reason alerts on ``day``."""
        return await self._run(lambda s: state.first_alert(session=s, day=day, reason=reason, now=now))

    async def unknown(self, symbol: str) -> UnknownPosition | None:
        return await self._run(lambda s: state.unknown_position(session=s, symbol=symbol))

    async def see_unknown(self, symbol: str, size: Decimal, first_seen: datetime) -> None:
        """A position the journal does not know, first seen (at this size) at ``first_seen``; nothing decided."""
        await self._run(lambda s: state.set_unknown_position(session=s, symbol=symbol, size=size,
                                                             first_seen=first_seen))

    async def decide_unknown(self, symbol: str, size: Decimal, decision: str) -> bool:
        """Remember the decision on an unknown position; False (nothing kept) if the bot already manages one."""
        def work(s: Session) -> bool:
            if trades.get_open_trade(session=s, symbol=symbol) is not None:
                return False
            state.set_unknown_position(session=s, symbol=symbol, size=size, decision=decision)
            return True
        return await self._run(work)

    async def put_action(self, kind: str, token: str, payload: dict[str, Any], expires: datetime) -> None:
        """Keep what a button will do (``kind``: button or proposal) until ``expires``."""
        await self._run(lambda s: state.put_pending(session=s, token=token, kind=kind, payload=payload,
                                                    expires_at=expires))

    async def peek_action(self, kind: str, token: str, now: datetime) -> dict[str, Any] | None:
        """The action's payload while fresh; None when unknown or expired."""
        return await self._run(lambda s: state.peek_pending(session=s, token=token, kind=kind, now=now))

    async def take_action(self, kind: str, token: str, now: datetime) -> dict[str, Any] | None:
        """The action's payload, consumed (only one taker wins); None when unknown, taken or expired."""
        return await self._run(lambda s: state.take_pending(session=s, token=token, kind=kind, now=now))

    async def beat(self, name: str, at: datetime, detail: str | None, now: datetime) -> None:
        await self._run(lambda s: state.beat(session=s, name=name, at=at, detail=detail, now=now))


def read_heartbeats(db: Engine) -> dict[str, Heartbeat]:
    """Every heartbeat by name (for ``bot.py health``: a separate process, no event loop, no Journal)."""
    with session_scope(db) as s:
        return {row.name: row for row in s.exec(select(Heartbeat)).all()}


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
