"""Journal schema migrations (Alembic): one transaction per start, refuse a journal newer than the code, repair one
an interrupted first start of an older release left half-created, new revisions.

Developers: after changing a table in ``storage/models.py``, run
``python -m storage revision "what changed"``; it autogenerates ``storage/migrations/versions/NNNN_*.py``
against a scratch SQLite journal at the current head. Review the file, then commit it with the model change.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from tradebot.errors import TradebotError

log = logging.getLogger("storage.migrate")
SCRIPT_LOCATION = str(Path(__file__).parent / "migrations")
BASELINE = "0001"  # the schema of the first release (create_all + a schemaversion row, before Alembic)
VERSION_TABLE = "journal_alembic_version"  # not alembic's default: Optuna keeps its own alembic_version
_PG_LOCK_KEY = 0x7472_6164_6562_6F74 & 0x7FFF_FFFF_FFFF_FFFF  # "tradebot": one migrator at a time
MIGRATION_WAIT_MS = 120_000  # SQLite: how long a start waits for another one's migration (write lock)
# Tables a start fills by itself (no trades, no settings): a half-created journal holding rows only here is empty.
BOOKKEEPING = frozenset({"schemaversion", "instancelock", "heartbeat", VERSION_TABLE})


class MigrationError(TradebotError):
    """The journal cannot be migrated by this code (newer than the code, unknown, or half-created with data)."""


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = VERSION_TABLE
    return cfg


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "storage/migrations/versions is empty"
    return head


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """The journal's revision, or None for an empty or pre-Alembic journal."""
    with engine.connect() as conn:
        return _revision(conn)


@contextmanager
def one_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that holds DDL too, committed at the end; one migrator at a time.

    pysqlite (Python 3.11) begins a transaction only before INSERT/UPDATE/DELETE, so CREATE TABLE and CREATE INDEX
    run in autocommit, each committed on its own: a kill between two of them left a half-created journal. Here its
    implicit transaction handling is switched off for this connection (``isolation_level = None``, SQLAlchemy's
    documented recipe for SQLite transactional DDL) and the transaction is begun explicitly with ``BEGIN
    IMMEDIATE``: every statement, DDL included, commits or vanishes together, and a second process starting at
    the same time waits for the write lock (busy_timeout) and then finds the journal done. PostgreSQL's DDL is
    transactional already; an advisory lock makes the second migrator wait.
    """
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        level, busy = getattr(raw, "isolation_level", None), 0
        if raw is not None:
            raw.isolation_level = None
            busy = raw.execute("PRAGMA busy_timeout").fetchone()[0]
            raw.execute(f"PRAGMA busy_timeout={MIGRATION_WAIT_MS}")  # another start's migration may be slow
        try:
            with conn.begin():
                if raw is not None:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                elif conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                yield conn
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA busy_timeout={int(busy)}")
                raw.isolation_level = level


def _journal_tables(conn: Connection) -> set[str]:
    ours = set(SQLModel.metadata.tables) | {"botstate", VERSION_TABLE}  # botstate: revisions 0001 (dropped by 0002)
    return ours & set(inspect(conn).get_table_names())


def _has_rows(conn: Connection, table: str) -> bool:
    return conn.execute(sa.select(sa.literal(1)).select_from(sa.table(table)).limit(1)).first() is not None


def _missing(conn: Connection) -> list[str]:
    """What the models have and the journal lacks: tables, columns, indexes (a journal at head lacks nothing)."""
    insp = inspect(conn)
    names = sorted(set(SQLModel.metadata.tables) & set(insp.get_table_names()))
    columns = {key[1]: {c["name"] for c in cols} for key, cols in insp.get_multi_columns(filter_names=names).items()}
    indexes = {key[1]: {i["name"] for i in idx} for key, idx in insp.get_multi_indexes(filter_names=names).items()}
    out: list[str] = []
    for name, table in sorted(SQLModel.metadata.tables.items()):
        if name not in columns:
            out.append(f"table {name}")
            continue
        out += [f"column {name}.{c.name}" for c in table.columns if c.name not in columns[name]]
        out += [f"index {i.name}" for i in table.indexes if i.name not in indexes.get(name, set())]
    return out


def _rebuild(conn: Connection, what: str) -> None:
    """A journal an interrupted first start left half-created: dropped and created anew when it holds nothing
    but bookkeeping rows; refused (MigrationError, nothing touched) when it holds data."""
    tables = _journal_tables(conn)
    holding = sorted(t for t in tables - BOOKKEEPING if _has_rows(conn, t))
    if holding:
        raise MigrationError(
            f"the journal is incomplete ({what}): a first start of an older release of the bot was interrupted "
            f"while creating it, yet it holds rows in {', '.join(holding)}; it is left as it is: restore it from "
            "a backup, or move it aside (or point DATABASE_URL at another journal) to start a new one")
    log.warning("the journal was left incomplete by an interrupted first start of an older release (%s) and holds "
                "no trades or settings: creating it anew", what)
    meta = sa.MetaData()
    meta.reflect(conn, only=sorted(tables))
    meta.drop_all(conn)


def _table_missing(exc: sa.exc.DBAPIError) -> bool:
    """The database said a table does not exist (SQLite's "no such table", PostgreSQL's undefined_table)."""
    return "no such table" in str(exc.orig) or getattr(exc.orig, "sqlstate", None) == "42P01"


def _shorten(parts: list[str], limit: int = 6) -> str:
    return ", ".join(parts[:limit]) + (f" and {len(parts) - limit} more" if len(parts) > limit else "")


def upgrade(conn: Connection) -> str:
    """Bring the journal to the head revision inside ``conn``'s transaction (see :func:`one_transaction`).

    An empty database gets every revision from the start; a journal of the first release (its tables and its
    ``schemaversion`` row, but no ``journal_alembic_version``) is stamped as the baseline first. A journal an
    interrupted first start left half-created (an older release created its tables one by one, each committed) is
    created anew when it holds no data, else refused. A revision this code does not know means the journal was
    written by a newer release: :class:`MigrationError`, nothing touched.
    """
    cfg = _config(conn)
    script = ScriptDirectory.from_config(cfg)
    current = _revision(conn)
    if current is not None and current not in {s.revision for s in script.walk_revisions()}:
        raise MigrationError(
            f"the journal is at schema revision {current}, newer than this code knows (newest "
            f"{script.get_current_head()}): it was written by a newer release of the bot; upgrade the bot "
            f"(or point DATABASE_URL at another journal)"
        )
    tables = _journal_tables(conn)
    if current is None and tables:
        if "schemaversion" in tables and _has_rows(conn, "schemaversion"):  # the first release finished it
            command.stamp(cfg, BASELINE)
        else:
            _rebuild(conn, "no schema revision; only " + _shorten(sorted(tables)))
    try:
        with conn.begin_nested():  # a savepoint: a failed step is undone alone, the transaction goes on
            command.upgrade(cfg, "head")
    except sa.exc.DBAPIError as exc:
        if not (tables and _table_missing(exc)):
            raise
        # stamped by an older release whose first start was cut off: a revision's step met a table never created
        absent = [m for m in _missing(conn) if m.startswith("table ")] or [str(exc.orig).splitlines()[0]]
        _rebuild(conn, "missing " + _shorten(absent))
        command.upgrade(cfg, "head")
    if tables and (missing := _missing(conn)):  # (a journal created just now is complete)
        _rebuild(conn, "missing " + _shorten(missing))
        command.upgrade(cfg, "head")
    return head_revision()


def new_revision(message: str) -> None:
    """Autogenerate a revision from the difference between the models and a journal at head."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        with engine.begin() as conn:
            command.upgrade(_config(conn), "head")
            script = ScriptDirectory.from_config(_config(conn))
            number = len(list(script.walk_revisions())) + 1
            command.revision(_config(conn), message=message, autogenerate=True, rev_id=f"{number:04d}")
        engine.dispose()
