"""Column types: exact Decimal money, UTC-aware datetimes and JSON that keeps Decimal/datetime."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PRECISION = 28
MONEY_SCALE = 10
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_MAX_ABS = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)
_CTX = Context(prec=MONEY_PRECISION + 12)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` converted to UTC; naive datetimes are refused (they are ambiguous)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC datetime")
    return value.astimezone(UTC)


def to_money(value: Decimal | int | str) -> Decimal:
    """Validate and round to the column scale (10 dp, half away from zero), in plain form.

    The result has no trailing zeros and no exponent: ``Decimal("65432.1")``, ``Decimal("0")``, ``Decimal("100")``.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"money must be Decimal, int or str, not {type(value).__name__} ({value!r})")
    dec = value if isinstance(value, Decimal) else Decimal(value)
    if not dec.is_finite():
        raise ValueError(f"money must be finite, got {dec}")
    if abs(dec) < _MAX_ABS:
        dec = dec.quantize(_QUANTUM, rounding=ROUND_HALF_UP, context=_CTX)
    if abs(dec) >= _MAX_ABS:
        raise ValueError(f"money {dec} does not fit NUMERIC({MONEY_PRECISION},{MONEY_SCALE})")
    if dec == 0:
        return Decimal(0)
    text = format(dec, "f")
    return Decimal(text.rstrip("0").rstrip(".") if "." in text else text)


class Money(TypeDecorator[Decimal]):
    """NUMERIC(28,10) on PostgreSQL; canonical TEXT on SQLite, which has no exact decimal type.

    pysqlite binds Decimal as float (lossy) and SQLAlchemy warns about it, so SQLite stores the
    quantized string instead. Both back ends return a Decimal with exactly 10 decimal places.
    Do money arithmetic in Python: SQL SUM()/ORDER BY on these columns is not exact on SQLite.
    """

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(MONEY_PRECISION + 2))
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = to_money(value)
        return format(dec, "f") if dialect.name == "sqlite" else dec

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return to_money(value if isinstance(value, Decimal) else str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only accepts aware values and always returns UTC-aware ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        utc = as_utc(value)
        # SQLite keeps no offset; storing the UTC wall clock keeps string comparisons correct.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


_DEC_TAG = "$decimal"
_DT_TAG = "$datetime"


def json_encode(value: Any) -> Any:
    """Make ``value`` JSON-safe, tagging Decimal and datetime so they come back as such."""
    if isinstance(value, Decimal):
        return {_DEC_TAG: str(value)}
    if isinstance(value, datetime):
        return {_DT_TAG: as_utc(value).isoformat()}
    if isinstance(value, dict):
        return {str(k): json_encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serialisable: {value!r}")


def json_decode(value: Any) -> Any:
    """Inverse of :func:`json_encode`."""
    if isinstance(value, dict):
        if len(value) == 1 and _DEC_TAG in value:
            return Decimal(value[_DEC_TAG])
        if len(value) == 1 and _DT_TAG in value:
            return datetime.fromisoformat(value[_DT_TAG]).astimezone(UTC)
        return {k: json_decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_decode(v) for v in value]
    return value


class JSONValue(TypeDecorator[Any]):
    """JSON column whose Decimal and aware-datetime values round-trip; Python None is SQL NULL."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json_encode(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json_decode(value)
