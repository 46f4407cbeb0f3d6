"""When the journal cannot be written: which database errors mean that (disk full, read-only, locked, server down),
the reason in one line, what to check, and a write probe (``bot.py health``). Never prints a password."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError

from storage.db import normalize_url, session_scope
from storage.models import Heartbeat

# The database refused the write or cannot be reached. (An IntegrityError is a bug of ours, not an outage.)
DOWN: tuple[type[Exception], ...] = (OperationalError, InterfaceError, InternalError)
LOW_DISK_BYTES = 1 << 20  # a SQLite journal's disk with less free space than this is called full


def reason(exc: BaseException) -> str:
    """The driver's own words, first line (``database or disk is full``), without the SQL statement."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return text[:200]


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


def free_bytes(url: str) -> int | None:
    """Free space on the disk holding a SQLite journal (None for PostgreSQL or when unknown)."""
    path = _sqlite_path(url)
    if path is None:
        return None
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return None


def advice(exc: BaseException | None, url: str) -> str:
    """What to check, in plain words, for this error and journal (``DATABASE_URL``)."""
    text = reason(exc).lower() if exc is not None else ""
    path = _sqlite_path(url)
    where = str(path.parent) if path is not None else None
    free = free_bytes(url)
    if "full" in text or "no space" in text or (free is not None and free < LOW_DISK_BYTES):
        room = f" ({free // 1024} KB free)" if free is not None else ""
        return (f"check the free space on the disk holding {where}{room}" if where else
                "check the free disk space of the PostgreSQL server (its data directory)")
    if "readonly" in text or "read-only" in text or "read only" in text or "permission" in text:
        return (f"check that {path} and its folder are writable by the bot's user, and that the disk is not "
                "mounted read-only" if path else "check that the database user may write (not a read-only "
                "replica or a read-only transaction)")
    if "locked" in text or "busy" in text:
        return "another process holds the journal locked (a backup tool, an sqlite3 shell?)"
    shown = make_url(normalize_url(url)).render_as_string(hide_password=True)
    if path is None:
        return f"check that the PostgreSQL server of {shown} (DATABASE_URL) is up and reachable, and its log"
    return f"check the journal file {path} (DATABASE_URL) and the disk it is on"


def write_problem(db: Engine) -> Exception | None:
    """Try one real write (the heartbeat rows rewritten as they are, committed); the error if it fails, else None."""
    try:
        with session_scope(db) as s:
            s.execute(update(Heartbeat).values(detail=Heartbeat.detail))
    except DOWN as exc:
        return exc
    return None
