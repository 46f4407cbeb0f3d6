"""Alembic: a first-release journal upgrades in place with nothing lost; migrations equal the models; newer refused."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from storage import SCHEMA_VERSION, SchemaVersion, StorageError, init_db, make_engine, session_scope
from storage.migrate import BASELINE, VERSION_TABLE, current_revision, head_revision
from storage.models import Confirmation, OutboxMessage, TradeRecord
from storage.stats import pnl_summary
from storage.trades import get_open_trade
from tests.journals import PG_URL, _pg_schema_url

FIXTURES = Path(__file__).parent.parent / "fixtures" / "journals"
V1_TABLES = ["auditlog", "botstate", "confirmation", "fundingrecord", "instancelock", "orderrecord",
             "outboxmessage", "signalrecord", "traderecord"]
V1_COUNTS = {"auditlog": 7, "botstate": 5, "confirmation": 8, "fundingrecord": 1, "instancelock": 1,
             "orderrecord": 1, "outboxmessage": 32, "signalrecord": 13, "traderecord": 3}


def _sqlite_v1(tmp_path: Path) -> Engine:
    path = tmp_path / "v1.db"
    con = sqlite3.connect(path)
    con.executescript((FIXTURES / "v1_sqlite.sql").read_text())
    con.close()
    return make_engine(f"sqlite:///{path}")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL not set")
    schema = f"mig_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _pg_v1(schema: str) -> Engine:
    admin = make_engine(PG_URL or "")
    raw = admin.raw_connection()  # the dump is many statements with literal '%': no placeholder parsing
    try:
        raw.driver_connection.execute((FIXTURES / "v1_postgres.sql").read_text().replace("__SCHEMA__", schema))
        raw.commit()
    finally:
        raw.close()
    admin.dispose()
    return make_engine(_pg_schema_url(schema))


def _snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every v1 row, as the database returns it, ordered by primary key."""
    out = {}
    with engine.connect() as conn:
        for name in V1_TABLES:
            table = SQLModel.metadata.tables[name]
            cols = [c for c in table.columns if c.name in {c["name"] for c in inspect(conn).get_columns(name)}]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            out[name] = [tuple(r) for r in rows]
    return out


def _check_upgrade(engine: Engine) -> None:
    before = _snapshot(engine)
    assert {k: len(v) for k, v in before.items()} == V1_COUNTS
    assert current_revision(engine) is None

    assert init_db(engine) == SCHEMA_VERSION
    assert current_revision(engine) == head_revision()
    after = _snapshot(engine)
    assert after == before  # nothing lost, nothing altered
    with session_scope(engine) as s:
        assert sorted(s.exec(select(SchemaVersion.version)).all()) == [1, SCHEMA_VERSION]
        # the upgraded journal is usable through today's code
        eth = get_open_trade(session=s, symbol="ETHUSDT")
        assert eth is not None and eth.side == "Sell" and eth.breakeven_done and eth.sl == Decimal("3410.20")
        assert [h["reason"] for h in eth.stop_history] == ["initial", "breakeven"]
        assert len(s.exec(select(Confirmation)).all()) == 8
        photo = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "chart")).one()
        assert photo.photo == b"\x89PNG\r\n\x1a\nv1"
        closed = s.exec(select(TradeRecord).where(TradeRecord.status == "closed")).all()
        assert {t.symbol for t in closed} == {"BTCUSDT", "SOLUSDT"}
        summary = pnl_summary(session=s, since=None, until=None)
        assert summary.trades == 2
    assert init_db(engine) == SCHEMA_VERSION  # idempotent
    assert _snapshot(engine) == before


def test_v1_sqlite_journal_upgrades_in_place(tmp_path):
    engine = _sqlite_v1(tmp_path)
    try:
        _check_upgrade(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_v1_postgres_journal_upgrades_in_place(pg_schema):
    engine = _pg_v1(pg_schema)
    try:
        _check_upgrade(engine)
    finally:
        engine.dispose()


def _no_drift(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE}), SQLModel.metadata)
    assert diff == [], f"models and migrations differ; run python -m storage revision '...': {diff}"


def test_migrations_from_empty_equal_the_models_sqlite():
    engine = make_engine("sqlite://")
    init_db(engine)
    _no_drift(engine)
    engine.dispose()


@pytest.mark.postgres
def test_migrations_from_empty_equal_the_models_postgres(pg_schema):
    admin = make_engine(PG_URL or "")
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{pg_schema}"'))
    admin.dispose()
    engine = make_engine(_pg_schema_url(pg_schema))
    init_db(engine)
    _no_drift(engine)
    engine.dispose()


def test_upgraded_v1_journal_has_no_drift(tmp_path):
    engine = _sqlite_v1(tmp_path)
    init_db(engine)
    _no_drift(engine)
    engine.dispose()


def test_journal_from_a_newer_release_is_refused_untouched(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'j.db'}")
    init_db(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE journal_alembic_version SET version_num = 'f00d'"))
    with pytest.raises(StorageError, match=r"revision f00d, newer than this code .*upgrade the bot"):
        init_db(engine)
    assert current_revision(engine) == "f00d"
    engine.dispose()


def test_baseline_is_the_first_revision():
    from alembic.script import ScriptDirectory

    from storage.migrate import _config

    revisions = list(ScriptDirectory.from_config(_config()).walk_revisions())
    assert revisions[-1].revision == BASELINE and revisions[-1].down_revision is None


def test_bot_py_refuses_a_journal_from_a_newer_release(tmp_path):
    """The real bot.py: one clear line, exit 2, no traceback, the journal left as it was."""
    from tests.reliability.test_bad_config import GOOD_ENV, TOKEN, run_bot

    path = tmp_path / "journal.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE journal_alembic_version SET version_num = 'f00d'"))
    engine.dispose()
    r = run_bot(tmp_path, "", GOOD_ENV | {"DATABASE_URL": f"sqlite:///{path}"})
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "Traceback" not in out and TOKEN not in out
    assert "Refusing to start" in r.stderr and "newer than this code" in r.stderr
    engine = make_engine(f"sqlite:///{path}")
    assert current_revision(engine) == "f00d"
    engine.dispose()


def test_an_optuna_study_can_share_the_journals_database(tmp_path):
    """Optuna keeps its own ``alembic_version``; the journal's is ``journal_alembic_version``."""
    import optuna

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    init_db(engine)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert init_db(engine) == SCHEMA_VERSION and current_revision(engine) == head_revision()
    _no_drift_ignoring_foreign_tables(engine)
    assert len(optuna.load_study(storage=url, study_name="s").trials) == 2
    engine.dispose()


def _no_drift_ignoring_foreign_tables(engine: Engine) -> None:
    """Optuna's tables (and their indexes) are not the journal's business; the journal's own must not drift."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE})
        diff = compare_metadata(ctx, SQLModel.metadata)
    ours = SQLModel.metadata.tables
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name not in ours)
            and not (d[0] == "remove_index" and d[1].table.name not in ours)] == []
