"""Engine creation (SQLite or PostgreSQL), schema migration at start (Alembic), and session scope."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from storage._common import _table
from storage.migrate import MigrationError, one_transaction, upgrade
from storage.models import SCHEMA_VERSION, SchemaVersion
from tradebot.errors import TradebotError
from tradebot.timeutil import utcnow

DEFAULT_URL = "sqlite:///tradebot.db"
SQLITE_BUSY_TIMEOUT_MS = 5000


class StorageError(TradebotError):
    """The database cannot be used as is (e.g. its schema is newer than this code)."""


def normalize_url(url: str) -> str:
    """Rewrite ``postgres://`` / ``postgresql://`` URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _is_memory_sqlite(url: str) -> bool:
    u = make_url(url)
    return u.get_backend_name() == "sqlite" and u.database in (None, "", ":memory:")


def make_engine(url: str = DEFAULT_URL, *, echo: bool = False) -> Engine:
    """Create an engine: SQLite (file with WAL, or shared in-memory) or PostgreSQL via psycopg."""
    url = normalize_url(url)
    backend = make_url(url).get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False}
        if _is_memory_sqlite(url):
            kwargs["poolclass"] = SerialStaticPool
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if backend == "sqlite":
        memory = _is_memory_sqlite(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                if not memory:
                    _wal(cur)
                    cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
            finally:
                cur.close()

    return engine


def _wal(cur: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds the file's lock.

    Switching a new (rollback-mode) journal to WAL writes its header inside a read transaction, and SQLite answers
    "database is locked" at once there, without the busy timeout (it would deadlock otherwise): two bots started
    together on a new journal both switch it, and one of them lost the race that way. The switch takes
    milliseconds, so it is retried for up to the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


class SerialStaticPool(StaticPool):
    """StaticPool whose single connection is held by one thread at a time.

    In-memory SQLite lives in that one connection, and StaticPool alone lets threads share it mid-
    transaction ("cannot start a transaction within a transaction", double check-ins). The lock is
    re-entrant, so sessions interleaved on one thread (asyncio handlers) still share it; another
    thread waits until the holder returns the connection (end of its transaction).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._holder = threading.RLock()

    def _do_get(self) -> Any:
        if not self._holder.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000 * 6):
            raise StorageError("in-memory SQLite connection held by another thread for too long")
        try:
            return super()._do_get()
        except BaseException:
            self._holder.release()
            raise

    def _do_return_conn(self, record: Any) -> None:
        super()._do_return_conn(record)
        self._holder.release()


def init_db(engine: Engine) -> int:
    """Migrate the journal to this code's schema (Alembic, see ``storage.migrate``); returns SCHEMA_VERSION.

    One transaction, DDL included (on SQLite too): a start killed at any statement leaves the journal as it was,
    and the next start does the whole of it. Raises :class:`StorageError` when the journal was written by a newer
    release (an unknown Alembic revision, or a ``schemaversion`` row above :data:`SCHEMA_VERSION`), or was left
    half-created by an older release and holds data; nothing is changed then.
    """
    versions = _table(SchemaVersion)
    with one_transaction(engine) as conn:
        if "schemaversion" in inspect(conn).get_table_names():
            newest = conn.execute(select(func.max(versions.c.version))).scalar() or 0
            if newest > SCHEMA_VERSION:
                raise StorageError(
                    f"database schema version {newest} is newer than this code ({SCHEMA_VERSION}); "
                    "upgrade the bot"
                )
        try:
            upgrade(conn)
        except MigrationError as exc:
            raise StorageError(str(exc)) from None
        if conn.execute(select(versions.c.version).where(versions.c.version == SCHEMA_VERSION)).first() is None:
            conn.execute(insert(versions).values(version=SCHEMA_VERSION, applied_at=utcnow()))
    return SCHEMA_VERSION


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Session that commits on success and rolls back on error; objects stay readable after it."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
