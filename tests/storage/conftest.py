"""Database fixtures for the storage tests: in-memory SQLite, file SQLite, and PostgreSQL if configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from storage import init_db, make_engine, normalize_url

PG_URL = os.environ.get("TEST_DATABASE_URL")


def _db_params() -> list:
    params: list = ["sqlite-memory", "sqlite-file"]
    if PG_URL:
        params.append(pytest.param("postgres", marks=pytest.mark.postgres))
    return params


def _pg_schema_url(schema: str) -> str:
    url = make_url(normalize_url(PG_URL or ""))
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture(params=_db_params())
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """An initialised, empty journal. PostgreSQL gets a throwaway schema per test, dropped afterwards."""
    kind = request.param
    admin: Engine | None = None
    schema = ""
    if kind == "sqlite-memory":
        eng = make_engine("sqlite://")
    elif kind == "sqlite-file":
        eng = make_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    else:
        schema = f"test_{uuid.uuid4().hex[:16]}"
        admin = make_engine(PG_URL or "")
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng = make_engine(_pg_schema_url(schema))
    try:
        init_db(eng)
        yield eng
    finally:
        eng.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
