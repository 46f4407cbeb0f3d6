"""Alembic: a first-release journal upgrades in place with nothing lost (bot state moved to typed tables, and back on
downgrade); migrations equal the models; newer refused."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from storage import SCHEMA_VERSION, SchemaVersion, StorageError, init_db, make_engine, session_scope, state
from storage.migrate import BASELINE, VERSION_TABLE, _config, current_revision, head_revision
from storage.models import (
    ChatSettings,
    Confirmation,
    DayMark,
    Heartbeat,
    OutboxMessage,
    PendingAction,
    ProtectionAlert,
    SeenBar,
    TradeRecord,
    UnknownPosition,
)
from storage.stats import pnl_summary
from storage.trades import get_open_trade
from storage.types import JSONValue, UTCDateTime
from tests.journals import PG_URL, _pg_schema_url, need_postgres

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
    need_postgres()
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


KEPT_TABLES = [t for t in V1_TABLES if t != "botstate"]  # botstate's rows move to typed tables (revision 0002)
TYPED_TABLES = ["chatsettings", "daymark", "heartbeat", "pendingaction", "protectionalert", "seenbar", "unknownposition"]
SETTINGS_KEYS = {"paused", "mode", "risk_pct", "settings_override", "losses_reset_at"}

# botstate as the first release wrote it; the fixtures hold five rows (settings, a day mark, a bar), the test adds a
# row of every other family the first release wrote, and a few it cannot have written (dropped, with a log line).
BOTSTATE = sa.table("botstate", sa.column("key", sa.String()), sa.column("value", JSONValue()),
                    sa.column("updated_at", UTCDateTime()))
WRITTEN_AT = datetime(2025, 7, 2, 17, 0, tzinfo=UTC)
ALERT_REASON = "daily loss limit hit: -3.10% of the day's start equity"[:40]  # the first release kept reason[:40]
MORE_STATE = {
    "mode": "confirm",
    "settings_override": {"risk.tp_atr": "4.5", "strategy.ema.fast": 7},
    "day_start:2025-07-01": "9950.5",
    "last_bar:ETHUSDT": "2025-07-02T16:45:00+00:00",
    f"protection_alert:2025-07-02:{ALERT_REASON}": True,
    "protection_alert:2025-07-02:3 consecutive losses: paused 1 h": True,
    "unknown:SOLUSDT": {"first_seen": "2025-07-02T15:00:00+00:00", "size": "12.5", "decision": None},
    "unknown:XRPUSDT": {"first_seen": "", "size": "100", "decision": "ignore"},
    "opt:Ab3_dEf-GhI": {"symbol": "BTCUSDT", "changes": {"risk.tp_atr": 4.5}, "expires": "2025-07-02T18:00:00+00:00"},
    "btn:Zz9_yY8-XxW": {"action": "close", "symbol": "BTCUSDT", "expires": "2025-07-02T17:05:00+00:00"},
    "heartbeat:tick": {"at": "2025-07-02T16:55:01+00:00"},
    "heartbeat:chat": {"at": "2025-07-02T16:55:03+00:00", "mode": "polling"},
}
UNREADABLE_STATE = {
    "day_start:2025-13-01": "1",
    "cooldown:BTCUSDT": "2025-07-02T17:00:00+00:00",
    "unknown:ADAUSDT": {"first_seen": "", "size": "many", "decision": None},
    "btn:no-expiry": {"action": "close", "symbol": "BTCUSDT"},
}


def _add_state(engine: Engine, rows: dict[str, object]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(BOTSTATE), [{"key": k, "value": v, "updated_at": WRITTEN_AT} for k, v in rows.items()])


def _botstate(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(BOTSTATE.c.key, BOTSTATE.c.value)).all())


def _snapshot(engine: Engine, tables: list[str] = KEPT_TABLES,
              columns: dict[str, set[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of ``tables``, as the database returns it, ordered by primary key (only ``columns`` if given: the
    columns a table had before a revision added some)."""
    out = {}
    with engine.connect() as conn:
        for name in tables:
            table = SQLModel.metadata.tables[name]
            have = {c["name"] for c in inspect(conn).get_columns(name)}
            cols = [c for c in table.columns if c.name in have and (columns is None or c.name in columns[name])]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).all()
            out[name] = [tuple(r) for r in rows]
    return out


def _check_moved_state(engine: Engine, before: dict[str, object]) -> None:
    """Every readable botstate row landed in its typed table, readable through storage.state."""
    t = datetime(2025, 7, 2, tzinfo=UTC)
    with session_scope(engine) as s:
        settings = state.load_settings(session=s)
        assert (settings.paused, settings.mode, settings.risk_pct) == (False, "confirm", Decimal("0.75"))
        assert settings.overrides == {"risk.tp_atr": "4.5", "strategy.ema.fast": 7}
        assert settings.losses_reset_at == t.replace(hour=8, minute=15) and settings.updated_at == WRITTEN_AT
        assert {r.day: r.start_equity for r in s.exec(select(DayMark)).all()} == {
            date(2025, 7, 2): Decimal("10000"), date(2025, 7, 1): Decimal("9950.5")}
        assert {r.symbol: r.bar_time for r in s.exec(select(SeenBar)).all()} == {
            "BTCUSDT": t.replace(hour=16, minute=50), "ETHUSDT": t.replace(hour=16, minute=45)}
        assert {(r.day, r.reason) for r in s.exec(select(ProtectionAlert)).all()} == {
            (date(2025, 7, 2), ALERT_REASON), (date(2025, 7, 2), "3 consecutive losses: paused 1 h")}
        assert not state.first_alert(session=s, day=date(2025, 7, 2), reason=ALERT_REASON + " (and more)")
        assert {r.symbol: (r.first_seen, r.size, r.decision) for r in s.exec(select(UnknownPosition)).all()} == {
            "SOLUSDT": (t.replace(hour=15), Decimal("12.5"), None), "XRPUSDT": (None, Decimal("100"), "ignore")}
        assert {(r.token, r.kind, r.expires_at) for r in s.exec(select(PendingAction)).all()} == {
            ("Ab3_dEf-GhI", "proposal", t.replace(hour=18)), ("Zz9_yY8-XxW", "button", t.replace(hour=17, minute=5))}
        assert state.peek_pending(session=s, token="Ab3_dEf-GhI", kind="proposal", now=WRITTEN_AT) == {
            "symbol": "BTCUSDT", "changes": {"risk.tp_atr": 4.5}}
        assert state.take_pending(session=s, token="Zz9_yY8-XxW", kind="button", now=WRITTEN_AT) == {
            "action": "close", "symbol": "BTCUSDT"}
        s.rollback()  # leave the token for the row count below
        assert {r.name: (r.at, r.detail) for r in s.exec(select(Heartbeat)).all()} == {
            "tick": (t.replace(hour=16, minute=55, second=1), None),
            "chat": (t.replace(hour=16, minute=55, second=3), "polling")}
        assert len(s.exec(select(ChatSettings)).all()) == 1
    moved = sum(len(rows) for rows in _snapshot(engine, TYPED_TABLES).values())
    readable = [k for k in before if k not in UNREADABLE_STATE]
    assert moved == len([k for k in readable if k not in SETTINGS_KEYS]) + 1  # nothing lost; settings: one row


def _check_upgrade(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    fixture = _snapshot(engine) | {"botstate": list(_botstate(engine))}
    assert {k: len(v) for k, v in fixture.items()} == V1_COUNTS
    _add_state(engine, MORE_STATE | UNREADABLE_STATE)
    before, state_before = _snapshot(engine), _botstate(engine)
    v1_columns = {t: {c["name"] for c in inspect(engine).get_columns(t)} for t in KEPT_TABLES}
    assert current_revision(engine) is None

    with caplog.at_level(logging.WARNING, logger="storage.migrate"):
        assert init_db(engine) == SCHEMA_VERSION
    for key in UNREADABLE_STATE:  # one line each for what could not be moved
        assert len([r for r in caplog.records if repr(key) in r.getMessage() and "not moved" in r.getMessage()]) == 1
    assert current_revision(engine) == head_revision()
    after = _snapshot(engine, columns=v1_columns)
    assert after == before  # nothing lost, nothing altered (0003 adds columns)
    trades = SQLModel.metadata.tables["traderecord"]
    with engine.connect() as conn:  # 0003: entry_qty from each trade's entry order where it has one
        assert dict(conn.execute(sa.select(trades.c.symbol, trades.c.entry_qty)).all()) == {
            "BTCUSDT": Decimal("0.465"), "ETHUSDT": None, "SOLUSDT": None}
        cards = SQLModel.metadata.tables["confirmation"]  # 0004: every earlier card and trade came from a signal
        assert {o for (o,) in conn.execute(sa.select(trades.c.origin)).all()} == {"signal"}
        assert {o for (o,) in conn.execute(sa.select(cards.c.origin)).all()} == {"signal"}
    assert "botstate" not in inspect(engine).get_table_names()
    _check_moved_state(engine, state_before)
    moved = _snapshot(engine, TYPED_TABLES)
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
    assert _snapshot(engine, columns=v1_columns) == before and _snapshot(engine, TYPED_TABLES) == moved


def _check_downgrade(engine: Engine) -> None:
    """0002 → 0001 puts every typed row back into botstate as the first release wrote it; up again, the same rows."""
    _add_state(engine, MORE_STATE)
    before, kept = _botstate(engine), _snapshot(engine)
    v1_columns = {t: {c["name"] for c in inspect(engine).get_columns(t)} for t in KEPT_TABLES}
    init_db(engine)
    moved = _snapshot(engine, TYPED_TABLES)
    with engine.begin() as conn:
        command.downgrade(_config(conn), BASELINE)
    assert current_revision(engine) == BASELINE
    tables = set(inspect(engine).get_table_names())
    assert "botstate" in tables and not tables & set(TYPED_TABLES)
    assert {c["name"] for c in inspect(engine).get_columns("botstate")} == {"key", "value", "updated_at"}
    # the one value the fixture holds tagged ({"$decimal": "0.75"}) comes back as the string the first release wrote
    assert _botstate(engine) == before | {"risk_pct": "0.75"}
    assert _snapshot(engine) == kept
    assert init_db(engine) == SCHEMA_VERSION and current_revision(engine) == head_revision()
    assert _snapshot(engine, TYPED_TABLES) == moved and _snapshot(engine, columns=v1_columns) == kept
def test_v1_sqlite_journal_upgrades_in_place(tmp_path, caplog):
    engine = _sqlite_v1(tmp_path)
    try:
        _check_upgrade(engine, caplog)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_v1_postgres_journal_upgrades_in_place(pg_schema, caplog):
    engine = _pg_v1(pg_schema)
    try:
        _check_upgrade(engine, caplog)
    finally:
        engine.dispose()


def test_v1_sqlite_journal_downgrades_to_the_baseline(tmp_path):
    engine = _sqlite_v1(tmp_path)
    try:
        _check_downgrade(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_v1_postgres_journal_downgrades_to_the_baseline(pg_schema):
    engine = _pg_v1(pg_schema)
    try:
        _check_downgrade(engine)
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
