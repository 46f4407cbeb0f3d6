"""Exact Decimal money, UTC-aware datetimes and JSON values on every database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from storage import FundingRecord, TradeRecord, repo, session_scope
from storage.types import to_money

EXACT = [
    Decimal("0.0000000001"),
    Decimal("65432.1"),
    Decimal("-0.0000000001"),
    Decimal("99999999999999999.9999999999"),
    Decimal("123456789012345678.1234567891"),
    Decimal("0.1") + Decimal("0.2"),
    Decimal("1"),
    Decimal("0"),
]


def _fund(engine, value, i, when):
    with session_scope(engine) as s:
        repo.record_funding(session=s, exec_id=f"e{i}", symbol="BTCUSDT", fee=value, time=when)
    with session_scope(engine) as s:
        return s.exec(select(FundingRecord).where(FundingRecord.exec_id == f"e{i}")).one()


@pytest.mark.parametrize("value", EXACT, ids=str)
def test_decimal_round_trip_exact(engine, now, value):
    rec = _fund(engine, value, 0, now)
    assert isinstance(rec.fee, Decimal)
    assert rec.fee == value
    assert str(rec.fee) == str(to_money(value))


def test_decimal_read_back_is_plain_and_identical_across_columns(engine, now):
    with session_scope(engine) as s:
        t = repo.open_trade(session=s, symbol="ETHUSDT", side="Sell", qty=Decimal("1.50"),
                            entry_price=Decimal("65432.1"), entry_time=now, entry_fee=Decimal("0.0000000001"),
                            sl=Decimal("70000.00"))
        tid = t.id
    with session_scope(engine) as s:
        t = s.get(TradeRecord, tid)
        assert (t.qty, t.entry_price, t.entry_fee, t.sl) == (
            Decimal("1.5"), Decimal("65432.1"), Decimal("0.0000000001"), Decimal("70000"))
        assert str(t.entry_price) == "65432.1" and str(t.sl) == "70000"
        assert t.stop_history[0]["sl"] == Decimal("70000")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("0.00000000005", "1E-10"), ("-0.00000000005", "-1E-10"), ("1.000000000049", "1")],
)
def test_scale_rounding_is_half_away_from_zero_everywhere(engine, now, raw, stored):
    assert _fund(engine, Decimal(raw), 1, now).fee == Decimal(stored)


def test_float_and_nonfinite_money_refused():
    with pytest.raises(TypeError):
        to_money(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        to_money(Decimal("NaN"))
    with pytest.raises(ValueError):
        to_money(Decimal("1E+18"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.decimals(min_value=Decimal("-1E+17"), max_value=Decimal("1E+17"), places=10,
                   allow_nan=False, allow_infinity=False))
def test_decimal_round_trip_property(engine, value):
    with session_scope(engine) as s:
        sig = repo.record_signal(session=s, symbol="X", time=datetime(2026, 1, 1, tzinfo=UTC), price=value,
                                 action="long", score=0.5, threshold=0.4, atr=value)
        sid = sig.id
    with session_scope(engine) as s:
        back = s.get(type(sig), sid)
        assert back.price == value and back.atr == value


def test_datetimes_come_back_utc_aware(engine):
    tz = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2026, 3, 1, 17, 30, 15, 123456, tzinfo=tz)
    rec = _fund(engine, Decimal("1"), 2, local)
    assert rec.time.tzinfo is not None and rec.time.utcoffset() == timedelta(0)
    assert rec.time == local
    assert rec.time == datetime(2026, 3, 1, 12, 0, 15, 123456, tzinfo=UTC)


def test_naive_datetime_refused(engine):
    with pytest.raises(Exception, match="naive"):
        _fund(engine, Decimal("1"), 3, datetime(2026, 1, 1))


def test_time_range_queries_compare_instants(engine):
    tz = timezone(timedelta(hours=-7))
    base = datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
    with session_scope(engine) as s:
        for i in range(4):
            repo.record_funding(session=s, exec_id=f"r{i}", symbol="BTCUSDT", fee=Decimal(i),
                                time=(base + timedelta(hours=i)).astimezone(tz))
    with session_scope(engine) as s:
        got = repo.funding_records(session=s, since=base + timedelta(hours=1),
                                   until=(base + timedelta(hours=3)).astimezone(timezone(timedelta(hours=9))))
    assert [f.exec_id for f in got] == ["r1", "r2"]


def test_json_round_trip_keeps_decimal_and_datetime(engine, now):
    breakdown = {"ema": 0.25, "rsi": -0.1, "nested": {"level": Decimal("64999.5"), "at": now}, "tags": ["a", 1]}
    with session_scope(engine) as s:
        sid = repo.record_signal(session=s, symbol="BTCUSDT", time=now, price=Decimal("1"), action="long",
                                 score=0.75, threshold=0.6, breakdown=breakdown).id
    with session_scope(engine) as s:
        sig = repo.recent_signals(session=s, symbol="BTCUSDT")[0]
    assert sig.id == sid and sig.breakdown == breakdown
    assert sig.breakdown["nested"]["at"].tzinfo is not None
    assert sig.score == 0.75 and sig.time == now
