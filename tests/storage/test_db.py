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
