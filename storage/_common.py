"""Small helpers shared by the repo modules: value checks, dialect-aware insert-or-ignore/upsert, rowcount."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def check(value: str, allowed: Iterable[str], name: str) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE/DELETE/INSERT result."""
    return int(result.rowcount)


def _insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"unsupported database dialect {name!r}")


def _table(model: type[SQLModel]) -> Table:
    """The table of a ``table=True`` model (SQLModel's class declares no ``__table__``; its mapper knows it)."""
    table = sa_inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def insert_ignore(session: Session, model: type[SQLModel], values: Mapping[str, Any], keys: list[str]) -> bool:
    """INSERT ... ON CONFLICT (keys) DO NOTHING; True if a row was inserted.

    Uses RETURNING (PostgreSQL, SQLite >= 3.35): psycopg reports rowcount -1 for these inserts.
    """
    table = _table(model)
    stmt = _insert(session)(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    return session.exec(stmt.returning(table.c[keys[0]])).first() is not None


def upsert(
    session: Session,
    model: type[SQLModel],
    values: Mapping[str, Any],
    keys: list[str],
    update: list[str],
    where: Callable[[Table, Any], ColumnElement[bool]] | None = None,
) -> bool:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET the ``update`` columns from the new row; True if a row was
    written. ``where(table, excluded)`` limits the update (False: the stored row was kept as it was).
    """
    table = _table(model)
    stmt = _insert(session)(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c: stmt.excluded[c] for c in update},
        where=None if where is None else where(table, stmt.excluded),
    )
    return session.exec(stmt.returning(table.c[keys[0]])).first() is not None
