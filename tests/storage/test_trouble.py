"""storage/trouble.py: a journal that cannot be written is recognised on SQLite and PostgreSQL (real refusals: a
read-only connection, a server that is not there), named in one line, with what to check; no password shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from storage import make_engine
from storage.trouble import DOWN, advice, reason, write_problem
from storage.worker import Worker
from tests.journals import db_params, journal


@pytest.fixture(params=db_params("sqlite-file"))
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with journal(request.param, tmp_path) as eng:
        yield eng


def _read_only(db: Engine) -> None:
    """Every new connection refuses writes: SQLite's query_only, PostgreSQL's read-only transactions."""
    sqlite = db.dialect.name == "sqlite"

    def pragma(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only = ON" if sqlite else "SET default_transaction_read_only = on")
        cur.close()
        if not sqlite:
            dbapi_conn.commit()

    event.listen(db, "connect", pragma)
    db.dispose()


async def test_a_refused_write_is_recognised_told_to_watchers_and_named(db: Engine) -> None:
    assert write_problem(db) is None
    _read_only(db)
    exc = write_problem(db)
    assert isinstance(exc, DOWN)
    words = reason(exc)
    assert "read" in words.lower() and "[SQL" not in words and "\n" not in words  # the driver's words, no SQL
    url = db.url.render_as_string(hide_password=False)
    assert "writ" in advice(exc, url)  # writable / may write

    worker, seen = Worker(db), []
    worker.watchers.append(seen.append)
    try:
        from storage.models import Heartbeat
        from tradebot.timeutil import utcnow

        with pytest.raises(DOWN):
            await worker.run(lambda s: s.add(Heartbeat(name="x", at=utcnow(), updated_at=utcnow())))
        assert len(seen) == 1 and isinstance(seen[0], DOWN)
        assert await worker.run(lambda s: 42) == 42  # reads still work; nothing more was reported
        assert len(seen) == 1
    finally:
        worker.close()


@pytest.mark.parametrize(("words", "wanted"), [
    ("database or disk is full", "check the free space on the disk holding"),
    ("attempt to write a readonly database", "writable by the bot's user"),
    ("database is locked", "another process holds the journal"),
    ("disk I/O error", "check the journal file"),
])
def test_what_to_check_for_each_sqlite_refusal(tmp_path: Path, words: str, wanted: str) -> None:
    exc = RuntimeError(words)
    assert wanted in advice(exc, f"sqlite:///{tmp_path / 'journal.db'}")


def test_a_postgresql_server_that_is_not_there_is_named_without_its_password() -> None:
    url = "postgresql://tradebot:s3cr3t-pw@127.0.0.1:1/journal?connect_timeout=2"
    eng = make_engine(url)
    try:
        exc = write_problem(eng)
    finally:
        eng.dispose()
    assert isinstance(exc, DOWN)
    text = f"{reason(exc)} {advice(exc, url)}"
    assert "PostgreSQL server" in text and "127.0.0.1:1" in text and "s3cr3t-pw" not in text
