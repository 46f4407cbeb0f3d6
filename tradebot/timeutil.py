"""Time helpers that exist once: UTC now, epoch ms ↔ aware datetime, Bybit interval lengths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MINUTE_MS = 60_000
DAY_MS = 1_440 * MINUTE_MS
WEEK_MS = 7 * DAY_MS
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


def ms_to_datetime(ms: int) -> datetime:
    """Epoch milliseconds to an aware UTC datetime (exact, no float rounding)."""
    return EPOCH + timedelta(milliseconds=int(ms))


def datetime_to_ms(when: datetime) -> int:
    """An aware datetime to epoch milliseconds (exact)."""
    return (when - EPOCH) // timedelta(milliseconds=1)


def interval_ms(interval: str | int) -> int | None:
    """Fixed length of a Bybit interval in ms ("60" -> 3_600_000, "D", "W"); None for "M" (calendar month)."""
    key = str(interval)
    if key == "D":
        return DAY_MS
    if key == "W":
        return WEEK_MS
    if key == "M":
        return None
    if not key.isdigit() or int(key) <= 0:
        raise ValueError(f"unknown interval {interval!r}: use minutes (e.g. '60') or 'D', 'W', 'M'")
    return int(key) * MINUTE_MS


def interval_delta(interval: str | int) -> timedelta:
    """A Bybit interval as a timedelta (a calendar month counts as 31 days)."""
    step = interval_ms(interval)
    return timedelta(milliseconds=step if step is not None else 31 * DAY_MS)
