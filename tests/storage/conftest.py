"""Database fixtures for the storage tests: in-memory SQLite, file SQLite, and PostgreSQL if configured."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from tests.journals import db_params, journal


@pytest.fixture(params=db_params("sqlite-memory", "sqlite-file"))
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """An initialised, empty journal. PostgreSQL gets a throwaway schema per test, dropped afterwards."""
    with journal(request.param, tmp_path) as eng:
        yield eng


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
