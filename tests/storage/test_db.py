"""Engine creation, pragmas, schema version and session scope."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from storage import (
    SCHEMA_VERSION,
    SchemaVersion,
    StorageError,
    init_db,
    make_engine,
    normalize_url,
    session_scope,
)
from storage.models import Heartbeat
from tradebot.timeutil import utcnow


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_normalize_url(url, expected):
    assert normalize_url(url) == expected


def test_postgres_urls_use_psycopg_driver():
    for url in ("postgres://u@127.0.0.1:1/db", "postgresql://u@127.0.0.1:1/db"):
        eng = make_engine(url)  # no connection is made here
        assert eng.dialect.name == "postgresql" and eng.dialect.driver == "psycopg"
        eng.dispose()


def test_sqlite_file_pragmas(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    eng.dispose()


def test_sqlite_switching_a_new_journal_to_wal_waits_for_another_connections_lock(tmp_path):
    """Two bots started together on a new journal both switch it to WAL. SQLite refuses the switch at once
    ("database is locked", no busy timeout) while another connection holds the file's write lock: the second start
    exited 1 instead of waiting for the first. Here a rollback-mode connection holds that lock for 0.3 s."""
    import sqlite3
    import threading

    path = tmp_path / "new.db"
    other = sqlite3.connect(path, check_same_thread=False)
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")  # a new file, rollback mode: the lock a WAL switch in progress holds
    threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
    eng = make_engine(f"sqlite:///{path}")
    try:
        with eng.connect() as conn:  # the old code: OperationalError "database is locked" within milliseconds
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        eng.dispose()
        other.close()


def test_sqlite_new_journal_opened_by_two_connections_at_once(tmp_path):
    """The race itself, 100 times: two engines open a new journal file at the same instant (the old code lost about
    one round in ten on this machine with "database is locked")."""
    import threading

    for n in range(100):
        url = f"sqlite:///{tmp_path / f'race{n}.db'}"
        barrier, errors = threading.Barrier(2), []

        def open_it(url=url, barrier=barrier, errors=errors):
            eng = make_engine(url)
            barrier.wait()
            try:
                with eng.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception as exc:
                errors.append(exc)
            finally:
                eng.dispose()

        threads = [threading.Thread(target=open_it) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, (n, errors)


def test_sqlite_memory_is_shared_across_threads():
    import threading

    eng = make_engine("sqlite://")
    init_db(eng)

    def writer():
        with session_scope(eng) as s:
            s.add(Heartbeat(name="k", at=utcnow(), detail="1"))

    t = threading.Thread(target=writer)
    t.start()
    t.join()
    with session_scope(eng) as s:
        assert s.get(Heartbeat, "k").detail == "1"
    eng.dispose()


def test_init_db_idempotent_and_records_version(engine):
    assert init_db(engine) == SCHEMA_VERSION
    with session_scope(engine) as s:
        rows = s.exec(select(SchemaVersion)).all()
    assert [r.version for r in rows] == [SCHEMA_VERSION]
    assert rows[0].applied_at.tzinfo is not None


def test_init_db_refuses_newer_schema(engine):
    with session_scope(engine) as s:
        s.add(SchemaVersion(version=SCHEMA_VERSION + 1))
    with pytest.raises(StorageError, match="newer"):
        init_db(engine)


def test_session_scope_commits_and_rolls_back(engine):
    with session_scope(engine) as s:
        s.add(Heartbeat(name="a", at=utcnow()))
    with pytest.raises(RuntimeError):
        with session_scope(engine) as s:
            s.add(Heartbeat(name="b", at=utcnow()))
            s.flush()
            raise RuntimeError("boom")
    with session_scope(engine) as s:
        assert s.get(Heartbeat, "a") is not None
        assert s.get(Heartbeat, "b") is None
