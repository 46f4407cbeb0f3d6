"""Journal databases for tests: in-memory SQLite, file SQLite, and PostgreSQL (a throwaway schema) when configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from storage import init_db, make_engine, normalize_url

PG_URL = os.environ.get("TEST_DATABASE_URL")
IN_CI = os.environ.get("CI") == "true"


def need_postgres() -> str:
    """TEST_DATABASE_URL. Without it a PostgreSQL test skips on a developer's machine, and fails in CI (CI=true),
    where .ci/run starts the server: the only skip the suite allows."""
    if PG_URL:
        return PG_URL
    if IN_CI:
        pytest.fail("TEST_DATABASE_URL is not set in CI: the PostgreSQL tests must run there (.ci/run starts it)")
    pytest.skip("TEST_DATABASE_URL not set (no PostgreSQL here; CI runs these tests)")


def db_params(*kinds: str) -> list:
    """pytest params for the given SQLite kinds, plus "postgres" when TEST_DATABASE_URL is set (always in CI,
    where a missing server then fails)."""
    params: list = list(kinds)
    if PG_URL or IN_CI:
        params.append(pytest.param("postgres", marks=pytest.mark.postgres))
    return params


def _pg_schema_url(schema: str) -> str:
    url = make_url(normalize_url(PG_URL or ""))
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@contextmanager
def journal(kind: str, tmp_path: Path) -> Iterator[Engine]:
    """An initialised, empty journal; PostgreSQL gets its own schema, dropped afterwards."""
    admin: Engine | None = None
    schema = ""
    if kind == "sqlite-memory":
        eng = make_engine("sqlite://")
    elif kind == "sqlite-file":
        eng = make_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    else:
        schema = f"test_{uuid.uuid4().hex[:16]}"
        admin = make_engine(need_postgres())
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
