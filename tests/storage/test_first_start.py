"""The journal's first start is atomic: a SIGKILL after any one of its SQL statements leaves a journal that the next
start completes, with the schema a clean first start gives (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from storage import StorageError, init_db, make_engine
from storage.lock import new_owner, take_lock
from storage.migrate import VERSION_TABLE, current_revision
from tests.journals import PG_URL, _pg_schema_url, need_postgres

ROOT = Path(__file__).resolve().parents[2]


def schema_of(engine: Engine) -> dict[str, Any]:
    """Tables, columns, keys, indexes, the Alembic revision and the schemaversion rows of a journal."""
    insp = inspect(engine)
    multi = {"columns": insp.get_multi_columns(), "pk": insp.get_multi_pk_constraint(),
             "fks": insp.get_multi_foreign_keys(), "indexes": insp.get_multi_indexes(),
             "unique": insp.get_multi_unique_constraints()}
    out: dict[str, Any] = {}
    for (_, name), columns in sorted(multi["columns"].items()):
        key = (None, name)
        out[name] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in columns],
            "pk": multi["pk"][key]["constrained_columns"],
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                          for f in multi["fks"][key]),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in multi["indexes"][key]),
            "unique": sorted(tuple(u["column_names"]) for u in multi["unique"][key]),
        }
    with engine.connect() as conn:
        out["revision"] = current_revision(engine)
        out["versions"] = sorted(conn.execute(text("SELECT version FROM schemaversion")).scalars())
        out["version rows"] = conn.execute(text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar()
    return out


@contextmanager
def empty_journals(kind: str, tmp_path: Path, count: int) -> Iterator[list[str]]:
    """``count`` new empty journals (SQLite files, or PostgreSQL schemas dropped afterwards); their URLs."""
    if kind == "sqlite-file":
        tag = uuid.uuid4().hex[:8]
        yield [f"sqlite:///{tmp_path / f'{tag}-{i}.db'}" for i in range(count)]
        return
    admin = make_engine(PG_URL or "")
    schemas = [f"first_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    with admin.begin() as conn:
        for s in schemas:
            conn.execute(text(f'CREATE SCHEMA "{s}"'))
    try:
        yield [_pg_schema_url(s) for s in schemas]
    finally:
        for s in schemas:  # one at a time: dropping them all in one transaction needs too many locks
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{s}" CASCADE'))
        admin.dispose()


def driver(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "tests.storage.first_start_driver", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def next_start(url: str) -> dict[str, Any]:
    """What the next bot start does with the journal (schema, lock), then the schema it left."""
    engine = make_engine(url)
    try:
        init_db(engine)
        assert take_lock(engine, new_owner()) is None
        return schema_of(engine)
    finally:
        engine.dispose()


def check_kills(kind: str, tmp_path: Path, every: int) -> None:
    """Kill the first start after statement 1, 1 + every, 1 + 2·every, ... and the last two; each journal must
    then start normally and have exactly the clean journal's schema."""
    with empty_journals(kind, tmp_path, 1) as (clean_url,):
        total = int(driver("count", clean_url))
        clean = next_start(clean_url)
    assert total >= 20 and set(clean) > {"orderrecord", "traderecord", "auditlog"}, (total, clean)
    points = sorted(set(range(1, total + 1, every)) | {total - 1, total})
    with empty_journals(kind, tmp_path, len(points)) as urls:
        kills = driver("kill", *(f"{n}={url}" for n, url in zip(points, urls, strict=True))).split("\n")
        assert kills[:len(points)] == [f"{n} killed" for n in points]
        unusable = {}
        for n, url in zip(points, urls, strict=True):
            try:
                got = next_start(url)
            except Exception as exc:  # noqa: BLE001 - listed below, every one of them
                unusable[n] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                continue
            if got != clean:
                unusable[n] = "schema differs: " + ", ".join(
                    k for k in sorted(set(got) | set(clean)) if got.get(k) != clean.get(k))
    assert unusable == {}, (f"{len(unusable)} of {len(points)} first starts killed after one of {total} "
                            f"statements left an unusable journal: {unusable}")


def test_sqlite_a_kill_after_any_statement_of_the_first_start_leaves_a_journal_the_next_start_completes(tmp_path):
    check_kills("sqlite-file", tmp_path, every=1)


@pytest.mark.postgres
def test_postgres_a_kill_after_statements_of_the_first_start_leaves_a_journal_the_next_start_completes(tmp_path):
    """Every 8th statement and the last two here (each start costs ~1 s on PostgreSQL); every one: the slow test."""
    need_postgres()
    check_kills("postgres", tmp_path, every=8)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_a_kill_after_any_statement_of_the_first_start_leaves_a_journal_the_next_start_completes(tmp_path):
    need_postgres()
    check_kills("postgres", tmp_path, every=1)


# ---------------------------------------------------------------- journals an older release left half-created

FIXTURES = ROOT / "tests" / "fixtures" / "journals"


def _sqlite_fixture(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.db"
    con = sqlite3.connect(path)
    con.executescript((FIXTURES / f"{name}.sql").read_text())
    con.close()
    return f"sqlite:///{path}"


def _clean_schema(kind: str, tmp_path: Path) -> dict[str, Any]:
    with empty_journals(kind, tmp_path, 1) as (url,):
        return next_start(url)


@pytest.mark.parametrize("name", ["half_created_sqlite", "half_stamped_sqlite"])
def test_a_journal_an_older_release_left_half_created_is_created_anew(tmp_path, name, caplog):
    """half_created: the old first start killed after its 12th statement (two tables, no revision: the old next
    start failed with "table auditlog already exists"); half_stamped: killed after the 20th, then started again
    by the old code, which stamped it at head with four tables missing ("no such table: orderrecord" ever after)."""
    url = _sqlite_fixture(tmp_path, name)
    with caplog.at_level(logging.WARNING, logger="storage.migrate"):
        assert next_start(url) == _clean_schema("sqlite-file", tmp_path)
    assert [r.getMessage() for r in caplog.records if "interrupted first start" in r.getMessage()], caplog.text
    engine = make_engine(url)
    init_db(engine)  # and it stays so
    assert schema_of(engine) == _clean_schema("sqlite-file", tmp_path)
    engine.dispose()


def test_a_half_created_journal_holding_data_is_refused_untouched(tmp_path):
    url = _sqlite_fixture(tmp_path, "half_stamped_sqlite")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO auditlog (time, update_kind, action, allowed) "
                          "VALUES ('2026-01-01 00:00:00', 'command', '/status', 1)"))
    before = schema_of(engine)
    with pytest.raises(StorageError, match=r"incomplete \(missing table confirmation, table orderrecord.*holds rows "
                                           r"in auditlog.*restore it from a backup"):
        init_db(engine)
    assert schema_of(engine) == before
    engine.dispose()


@pytest.mark.postgres
def test_postgres_a_journal_missing_tables_is_created_anew_or_refused_with_data(tmp_path):
    need_postgres()
    clean = _clean_schema("postgres", tmp_path)
    with empty_journals("postgres", tmp_path, 2) as (empty, holding):
        for url, rows in ((empty, False), (holding, True)):
            engine = make_engine(url)
            init_db(engine)
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE orderrecord; DROP INDEX ix_auditlog_user_id"))
                if rows:
                    conn.execute(text("INSERT INTO signalrecord (symbol, time, price, action, score, threshold, "
                                      "created_at) VALUES ('BTCUSDT', now(), '1', 'BUY', 1, 1, now())"))
            if rows:
                with pytest.raises(StorageError, match=r"missing index ix_auditlog_user_id, table orderrecord"):
                    init_db(engine)
            else:
                init_db(engine)
            engine.dispose()
        assert next_start(empty) == clean
        engine = make_engine(holding)
        assert "orderrecord" not in schema_of(engine)  # untouched
        engine.dispose()


def test_bot_py_refuses_a_half_created_journal_holding_data_in_one_line(tmp_path):
    from tests.reliability.test_bad_config import GOOD_ENV, TOKEN, run_bot

    url = _sqlite_fixture(tmp_path, "half_stamped_sqlite")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO chatsettings (id, paused, overrides, updated_at) "
                          "VALUES (1, 1, '{}', '2026-01-01 00:00:00')"))
    engine.dispose()
    r = run_bot(tmp_path, "", GOOD_ENV | {"DATABASE_URL": url})
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "Traceback" not in out and TOKEN not in out
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("Refusing to start: the journal is incomplete"), out
