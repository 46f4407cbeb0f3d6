"""Bot state in typed tables: the chat's settings, day marks, bars seen, protection alerts, unknown positions,
pending button/proposal tokens and heartbeats; ``prune`` applies each table's retention rule."""

# The storage conventions: keyword-only, the caller's ``session`` passed in, no commit (use ``session_scope``);
# times must be timezone-aware (stored as UTC); money is Decimal (or int/str), never float.

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from sqlmodel import Session, col, delete, select, update

from storage._common import check, insert_ignore, rowcount, upsert
from storage.models import (
    ALERT_REASON_LENGTH,
    BOT_MODES,
    PENDING_KINDS,
    UNKNOWN_DECISIONS,
    ChatSettings,
    DayMark,
    Heartbeat,
    PendingAction,
    ProtectionAlert,
    SeenBar,
    UnknownPosition,
)
from storage.types import as_utc, json_encode, to_money
from tradebot.timeutil import utcnow

SETTINGS_ID = 1
DECIDED = "decided"  # the kind a pending action becomes once its card is decided
DAY_MARK_DAYS = 7  # day marks older than this many days before prune's day go
ALERT_DAYS = 1  # protection alerts before yesterday go
SEEN_BAR_AGE = timedelta(days=30)  # a symbol not seen for this long is no longer traded
DECIDED_UNKNOWN_AGE = timedelta(days=1)  # an adopted/closed unknown position is history after this


class Unset(enum.Enum):
    """A settings field left as it is (None is a value: "as the config says")."""

    UNSET = enum.auto()


UNSET = Unset.UNSET


class SettingsChanges(TypedDict, total=False):
    """The settings row's fields a save may set (:func:`save_settings`; a field not given keeps its value)."""

    paused: bool
    mode: str | None
    risk_pct: Decimal | None
    overrides: Mapping[str, object]
    losses_reset_at: datetime | None
    symbols: list[str] | None


def _stamp(now: datetime | None) -> datetime:
    return as_utc(now) if now is not None else utcnow()


def _day(value: date) -> date:
    if isinstance(value, datetime):  # a datetime is a date too: refuse the ambiguity (which day, in which zone?)
        raise TypeError(f"day must be a date, not a datetime ({value!r})")
    return value


# ---------------------------------------------------------------- settings (one row)


def load_settings(session: Session) -> ChatSettings:
    """The settings row as stored, or the defaults (not paused, nothing overridden) if none was saved yet."""
    row = session.get(ChatSettings, SETTINGS_ID, populate_existing=True)
    return row if row is not None else ChatSettings(id=SETTINGS_ID)


def save_settings(
    session: Session,
    *,
    paused: bool | Unset = UNSET,
    mode: str | None | Unset = UNSET,
    risk_pct: Decimal | None | Unset = UNSET,
    overrides: Mapping[str, Any] | Unset = UNSET,
    losses_reset_at: datetime | None | Unset = UNSET,
    symbols: list[str] | None | Unset = UNSET,
    now: datetime | None = None,
) -> None:
    """Set the given fields of the settings row (created on first use, atomic upsert); the others keep their values."""
    given: dict[str, Any] = {}
    if not isinstance(paused, Unset):
        given["paused"] = bool(paused)
    if not isinstance(mode, Unset):
        if mode is not None:
            check(mode, BOT_MODES, "mode")
        given["mode"] = mode
    if not isinstance(risk_pct, Unset):
        given["risk_pct"] = None if risk_pct is None else to_money(risk_pct)
    if not isinstance(overrides, Unset):
        json_encode(overrides)  # fail early with a clear TypeError
        given["overrides"] = dict(overrides)
    if not isinstance(losses_reset_at, Unset):
        given["losses_reset_at"] = None if losses_reset_at is None else as_utc(losses_reset_at)
    if not isinstance(symbols, Unset):
        given["symbols"] = None if symbols is None else list(symbols)
    values = {"id": SETTINGS_ID, "paused": False, "overrides": {}, **given, "updated_at": _stamp(now)}
    upsert(session, ChatSettings, values, ["id"], [*given, "updated_at"])


# ---------------------------------------------------------------- day marks


def day_start_equity(session: Session, *, day: date) -> Decimal | None:
    """The equity recorded as ``day``'s start, or None."""
    return session.exec(select(col(DayMark.start_equity)).where(col(DayMark.day) == _day(day))).first()


def record_day_start(session: Session, *, day: date, equity: Decimal, now: datetime | None = None) -> bool:
    """Keep ``equity`` as ``day``'s starting equity unless one is kept already; True if this call kept it."""
    values = {"day": _day(day), "start_equity": to_money(equity), "recorded_at": _stamp(now)}
    return insert_ignore(session, DayMark, values, ["day"])


# ---------------------------------------------------------------- bars seen


def new_bar(session: Session, *, symbol: str, bar_time: datetime) -> bool:
    """True (and remembered) if ``bar_time`` is newer than the bar stored for ``symbol``, or none is; else False."""
    return upsert(session, SeenBar, {"symbol": symbol, "bar_time": as_utc(bar_time)}, ["symbol"], ["bar_time"],
                  where=lambda table, new: table.c.bar_time < new.bar_time)


def last_bar(session: Session, *, symbol: str) -> datetime | None:
    """The newest bar remembered for ``symbol``."""
    return session.exec(select(col(SeenBar.bar_time)).where(col(SeenBar.symbol) == symbol)).first()


# ---------------------------------------------------------------- protection alerts


def first_alert(session: Session, *, day: date, reason: str, now: datetime | None = None) -> bool:
    """True (and remembered) the first time ``reason`` (its first 40 characters) is alerted on ``day``."""
    values = {"day": _day(day), "reason": reason[:ALERT_REASON_LENGTH], "created_at": _stamp(now)}
    return insert_ignore(session, ProtectionAlert, values, ["day", "reason"])


# ---------------------------------------------------------------- unknown positions


def unknown_position(session: Session, *, symbol: str) -> UnknownPosition | None:
    """What is known about an exchange position the journal did not open."""
    return session.get(UnknownPosition, symbol, populate_existing=True)


def set_unknown_position(
    session: Session,
    *,
    symbol: str,
    size: Decimal,
    first_seen: datetime | None = None,
    decision: str | None = None,
    now: datetime | None = None,
) -> None:
    """Replace ``symbol``'s unknown-position row (atomic upsert); ``decision`` is adopt, close, ignore or None."""
    if decision is not None:
        check(decision, UNKNOWN_DECISIONS, "decision")
    values = {"symbol": symbol, "first_seen": None if first_seen is None else as_utc(first_seen),
              "size": to_money(size), "decision": decision, "updated_at": _stamp(now)}
    upsert(session, UnknownPosition, values, ["symbol"], ["first_seen", "size", "decision", "updated_at"])


def clear_unknown_position(session: Session, *, symbol: str) -> bool:
    """Forget ``symbol``'s unknown position; True if there was one."""
    stmt = delete(UnknownPosition).where(col(UnknownPosition.symbol) == symbol)
    return rowcount(session.exec(stmt.execution_options(synchronize_session=False))) == 1


# ---------------------------------------------------------------- pending actions (button tokens, proposals)


def put_pending(
    session: Session,
    *,
    token: str,
    kind: str,
    payload: Mapping[str, Any],
    expires_at: datetime,
    now: datetime | None = None,
) -> None:
    """Keep ``payload`` under the single-use ``token`` until ``expires_at`` (replacing a row of that key: a
    "cardof" subject gets a new card); ``kind`` is one of PENDING_KINDS."""
    check(kind, PENDING_KINDS, "kind")
    json_encode(payload)  # fail early with a clear TypeError
    session.merge(PendingAction(token=token, kind=kind, payload=dict(payload), expires_at=as_utc(expires_at),
                              created_at=_stamp(now)))
    session.flush()


def peek_pending(session: Session, *, token: str, kind: str, now: datetime) -> dict[str, Any] | None:
    """The payload of a live ``token`` of ``kind`` (left in place); None if absent or expired."""
    stmt = select(col(PendingAction.payload)).where(
        col(PendingAction.token) == token, col(PendingAction.kind) == kind,
        col(PendingAction.expires_at) >= as_utc(now),
    )
    found = session.exec(stmt).first()
    return None if found is None else dict(found)


def decide_pending(
    session: Session,
    *,
    token: str,
    kind: str,
    record: Mapping[str, Any],
    now: datetime,
    keep_until: datetime,
) -> bool:
    """Turn a live ``token`` of ``kind`` into a decided one (payload ``record``, kept until ``keep_until``); True
    for the one caller that did (atomic: one conditional UPDATE), False if it was absent, expired or decided."""
    json_encode(record)  # fail early with a clear TypeError
    stmt = (
        update(PendingAction)
        .where(col(PendingAction.token) == token, col(PendingAction.kind) == kind,
               col(PendingAction.expires_at) >= as_utc(now))
        .values(kind=DECIDED, payload=dict(record), expires_at=as_utc(keep_until))
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.exec(stmt)) == 1


def take_pending(session: Session, *, token: str, kind: str, now: datetime) -> dict[str, Any] | None:
    """Delete ``token`` and return its payload (atomic: of two takers, one gets it); None if absent or expired.

    An expired token of ``kind`` is deleted too: a token is consumed by its first use either way.
    """
    stmt = (
        delete(PendingAction)
        .where(col(PendingAction.token) == token, col(PendingAction.kind) == kind)
        .returning(col(PendingAction.payload), col(PendingAction.expires_at))
        .execution_options(synchronize_session=False)
    )
    row = session.exec(stmt).first()
    if row is None or row[1] < as_utc(now):
        return None
    return dict(row[0])


# ---------------------------------------------------------------- heartbeats


def beat(session: Session, *, name: str, at: datetime, detail: str | None = None, now: datetime | None = None) -> None:
    """Record heartbeat ``name`` at ``at`` (``detail``: e.g. polling/webhook); ``now`` stamps the write."""
    values = {"name": name, "at": as_utc(at), "detail": detail, "updated_at": _stamp(now)}
    upsert(session, Heartbeat, values, ["name"], ["at", "detail", "updated_at"])


def heartbeat(session: Session, *, name: str) -> Heartbeat | None:
    """The last ``beat`` of ``name``, or None."""
    return session.get(Heartbeat, name, populate_existing=True)


# ---------------------------------------------------------------- retention


def prune(session: Session, *, now: datetime) -> dict[str, int]:
    """Apply the retention rules at ``now`` (the clock the rows were written with); rows deleted per table.

    Day marks more than 7 days before ``now``'s day, protection alerts before yesterday, bars of symbols not seen for
    30 days, unknown positions adopted or closed over a day ago, pending actions past expiry. The settings row and
    heartbeats are kept (one row each, updated in place).
    """
    now = as_utc(now)
    today = now.date()
    statements = {
        "day_marks": delete(DayMark).where(col(DayMark.day) < today - timedelta(days=DAY_MARK_DAYS)),
        "protection_alerts": delete(ProtectionAlert).where(
            col(ProtectionAlert.day) < today - timedelta(days=ALERT_DAYS)),
        "seen_bars": delete(SeenBar).where(col(SeenBar.bar_time) < now - SEEN_BAR_AGE),
        "unknown_positions": delete(UnknownPosition).where(
            col(UnknownPosition.decision).in_(("adopt", "close")),
            col(UnknownPosition.updated_at) < now - DECIDED_UNKNOWN_AGE),
        "pending_actions": delete(PendingAction).where(col(PendingAction.expires_at) < now),
    }
    return {name: rowcount(session.exec(stmt.execution_options(synchronize_session=False)))
            for name, stmt in statements.items()}
