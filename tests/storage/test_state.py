"""Bot state in typed tables (storage.state): every function on SQLite and PostgreSQL, and prune's retention."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from storage import session_scope
from storage import state as st
from storage.models import DayMark, PendingAction, ProtectionAlert, SeenBar, UnknownPosition

DAY = date(2026, 1, 5)


def test_settings_defaults_and_fields_set_one_by_one(engine, now):
    with session_scope(engine) as s:
        row = st.load_settings(session=s)
        assert (row.paused, row.mode, row.risk_pct, row.overrides, row.losses_reset_at) == (False, None, None, {}, None)
        st.save_settings(session=s, paused=True, now=now)
        st.save_settings(session=s, mode="confirm", risk_pct=Decimal("0.75"), now=now + timedelta(minutes=1))
    with session_scope(engine) as s:
        row = st.load_settings(session=s)
        assert (row.paused, row.mode, row.risk_pct) == (True, "confirm", Decimal("0.75"))
        assert row.updated_at == now + timedelta(minutes=1) and row.updated_at.tzinfo is not None
        overrides = {"risk.tp_atr": "4.5", "strategy.ema.fast": 7, "exact": Decimal("0.1")}
        st.save_settings(session=s, overrides=overrides, losses_reset_at=now.astimezone(UTC))
        st.save_settings(session=s, paused=False, mode=None, risk_pct=None)
    with session_scope(engine) as s:
        row = st.load_settings(session=s)
        assert (row.paused, row.mode, row.risk_pct) == (False, None, None)
        assert row.overrides == overrides and row.losses_reset_at == now
        with pytest.raises(ValueError, match="mode must be one of auto, confirm"):
            st.save_settings(session=s, mode="yolo")
        with pytest.raises(TypeError):
            st.save_settings(session=s, risk_pct=0.5)  # type: ignore[arg-type]  # a float, refused on purpose
        with pytest.raises(TypeError):
            st.save_settings(session=s, overrides={"x": object()})
        with pytest.raises(ValueError, match="naive"):
            st.save_settings(session=s, losses_reset_at=datetime(2026, 1, 5))


def test_settings_writers_from_threads_keep_each_others_fields(engine):
    """Each writer sets its own field with an atomic upsert: no lost update between them."""
    errors = []

    def writer(i):
        try:
            with session_scope(engine) as s:
                if i == 0:
                    st.save_settings(session=s, paused=True)
                elif i == 1:
                    st.save_settings(session=s, mode="auto")
                else:
                    st.save_settings(session=s, risk_pct=Decimal(i))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    with session_scope(engine) as s:
        row = st.load_settings(session=s)
    assert row.paused and row.mode == "auto" and row.risk_pct in (Decimal(2), Decimal(3))


def test_day_start_is_kept_once(engine, now):
    with session_scope(engine) as s:
        assert st.day_start_equity(session=s, day=DAY) is None
        assert st.record_day_start(session=s, day=DAY, equity=Decimal("10000.123456789"), now=now) is True
        assert st.record_day_start(session=s, day=DAY, equity=Decimal("9000"), now=now) is False
        assert st.record_day_start(session=s, day=DAY + timedelta(days=1), equity=Decimal("9000")) is True
    with session_scope(engine) as s:
        assert st.day_start_equity(session=s, day=DAY) == Decimal("10000.123456789")
        assert st.day_start_equity(session=s, day=DAY + timedelta(days=1)) == Decimal("9000")
        with pytest.raises(TypeError, match="not a datetime"):
            st.day_start_equity(session=s, day=now)
        with pytest.raises(TypeError):
            st.record_day_start(session=s, day=DAY, equity=1.5)  # type: ignore[arg-type]  # a float, refused on purpose


def test_new_bar_only_moves_forward(engine, now):
    with session_scope(engine) as s:
        assert st.last_bar(session=s, symbol="BTCUSDT") is None
        assert st.new_bar(session=s, symbol="BTCUSDT", bar_time=now) is True
        assert st.new_bar(session=s, symbol="BTCUSDT", bar_time=now) is False
        assert st.new_bar(session=s, symbol="BTCUSDT", bar_time=now - timedelta(minutes=5)) is False
        assert st.last_bar(session=s, symbol="BTCUSDT") == now  # an older bar does not move it back
        assert st.new_bar(session=s, symbol="ETHUSDT", bar_time=now) is True  # per symbol
        later = now + timedelta(minutes=5)
        assert st.new_bar(session=s, symbol="BTCUSDT", bar_time=later.astimezone(UTC)) is True
    with session_scope(engine) as s:
        assert st.last_bar(session=s, symbol="BTCUSDT") == now + timedelta(minutes=5)
        with pytest.raises(ValueError, match="naive"):
            st.new_bar(session=s, symbol="BTCUSDT", bar_time=datetime(2026, 1, 5))


def test_new_bar_from_threads_reports_each_bar_once(engine, now):
    """Two ticks racing on the same bar: exactly one of them journals it."""
    results, errors = [], []

    def tick():
        try:
            with session_scope(engine) as s:
                results.append(st.new_bar(session=s, symbol="BTCUSDT", bar_time=now))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and sorted(results) == [False] * 4 + [True]


def test_first_alert_once_a_day_by_its_first_40_characters(engine, now):
    reason = "daily loss limit hit: -3.10% of the day's starting equity"
    with session_scope(engine) as s:
        assert st.first_alert(session=s, day=DAY, reason=reason, now=now) is True
        assert st.first_alert(session=s, day=DAY, reason=reason) is False
        assert st.first_alert(session=s, day=DAY, reason=reason[:40] + " (again)") is False
        assert st.first_alert(session=s, day=DAY, reason="3 consecutive losses") is True
        assert st.first_alert(session=s, day=DAY + timedelta(days=1), reason=reason) is True
    with session_scope(engine) as s:
        rows = s.exec(select(ProtectionAlert)).all()
    assert len(rows) == 3 and {r.reason for r in rows} == {reason[:40], "3 consecutive losses"}


def test_unknown_position_set_replace_clear(engine, now):
    with session_scope(engine) as s:
        assert st.unknown_position(session=s, symbol="SOLUSDT") is None
        st.set_unknown_position(session=s, symbol="SOLUSDT", size=Decimal("12.50"), first_seen=now, now=now)
    with session_scope(engine) as s:
        row = st.unknown_position(session=s, symbol="SOLUSDT")
        assert row is not None and (row.first_seen, row.size, row.decision) == (now, Decimal("12.5"), None)
        st.set_unknown_position(session=s, symbol="SOLUSDT", size=Decimal("12.5"), decision="ignore")
        row = st.unknown_position(session=s, symbol="SOLUSDT")
        assert row is not None and (row.first_seen, row.decision) == (None, "ignore")
        with pytest.raises(ValueError, match="decision must be one of adopt, close, ignore"):
            st.set_unknown_position(session=s, symbol="SOLUSDT", size=Decimal(1), decision="keep")
        assert st.clear_unknown_position(session=s, symbol="SOLUSDT") is True
        assert st.clear_unknown_position(session=s, symbol="SOLUSDT") is False
        assert st.unknown_position(session=s, symbol="SOLUSDT") is None


def test_pending_put_peek_take(engine, now):
    expires = now + timedelta(minutes=5)
    payload = {"symbol": "BTCUSDT", "changes": {"risk.tp_atr": Decimal("4.5"), "strategy.ema.fast": 7}}
    with session_scope(engine) as s:
        st.put_pending(session=s, token="opt-1", kind="proposal", payload=payload, expires_at=expires, now=now)
        st.put_pending(session=s, token="btn-1", kind="button", payload={"action": "close", "symbol": "ETHUSDT"},
                       expires_at=expires)
        with pytest.raises(ValueError, match="kind must be one of button, proposal"):
            st.put_pending(session=s, token="x", kind="other", payload={}, expires_at=expires)
        with pytest.raises(TypeError):
            st.put_pending(session=s, token="x", kind="button", payload={"x": object()}, expires_at=expires)
    with session_scope(engine) as s:
        assert st.peek_pending(session=s, token="opt-1", kind="proposal", now=now) == payload
        assert st.peek_pending(session=s, token="opt-1", kind="proposal", now=expires) == payload  # up to expiry
        assert st.peek_pending(session=s, token="opt-1", kind="proposal", now=expires + timedelta(seconds=1)) is None
        assert st.peek_pending(session=s, token="opt-1", kind="button", now=now) is None  # of another kind
        assert st.peek_pending(session=s, token="nope", kind="proposal", now=now) is None
        assert st.take_pending(session=s, token="btn-1", kind="proposal", now=now) is None  # kind must match
        assert st.take_pending(session=s, token="btn-1", kind="button", now=now) == {"action": "close",
                                                                                     "symbol": "ETHUSDT"}
        assert st.take_pending(session=s, token="btn-1", kind="button", now=now) is None  # single use
        assert st.peek_pending(session=s, token="opt-1", kind="proposal", now=now) == payload  # peek leaves it


def test_take_pending_expired_is_absent_and_consumed(engine, now):
    with session_scope(engine) as s:
        st.put_pending(session=s, token="old", kind="button", payload={"action": "stop_all", "symbol": ""},
                       expires_at=now - timedelta(seconds=1))
        assert st.take_pending(session=s, token="old", kind="button", now=now) is None
        assert s.get(PendingAction, "old") is None


def test_take_pending_from_threads_one_taker_wins(engine, now):
    with session_scope(engine) as s:
        st.put_pending(session=s, token="tok", kind="button", payload={"action": "close", "symbol": "BTCUSDT"},
                       expires_at=now + timedelta(minutes=1))
    got, errors = [], []

    def take():
        try:
            with session_scope(engine) as s:
                got.append(st.take_pending(session=s, token="tok", kind="button", now=now))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and [g for g in got if g is not None] == [{"action": "close", "symbol": "BTCUSDT"}]


def test_decide_pending_once_and_keep_the_decision(engine, now):
    card = {"actions": ["close", "cancel"], "chats": [42], "symbol": "BTCUSDT"}
    decided = {**card, "decided": "close", "by": "@owner", "chat": 42}
    with session_scope(engine) as s:
        st.put_pending(session=s, token="card", kind="button", payload=card, expires_at=now + timedelta(minutes=10))
        st.put_pending(session=s, token="late", kind="button", payload=card, expires_at=now - timedelta(seconds=1))
    with session_scope(engine) as s:
        assert not st.decide_pending(session=s, token="card", kind="proposal", record=decided, now=now,
                                     keep_until=now + timedelta(days=1))  # kind must match
        assert st.decide_pending(session=s, token="card", kind="button", record=decided, now=now,
                                 keep_until=now + timedelta(days=1))
        assert not st.decide_pending(session=s, token="card", kind="button", record={**decided, "by": "@x"},
                                     now=now, keep_until=now + timedelta(days=1))  # once
        assert not st.decide_pending(session=s, token="late", kind="button", record=decided, now=now,
                                     keep_until=now + timedelta(days=1))  # expired
        assert not st.decide_pending(session=s, token="nope", kind="button", record=decided, now=now,
                                     keep_until=now + timedelta(days=1))
    with session_scope(engine) as s:
        assert st.peek_pending(session=s, token="card", kind="button", now=now) is None
        assert st.peek_pending(session=s, token="card", kind="decided", now=now + timedelta(hours=23)) == decided
        assert st.prune(session=s, now=now + timedelta(days=2))["pending_actions"] == 2  # kept a day, then gone


def test_decide_pending_from_threads_one_decider_wins(engine, now):
    with session_scope(engine) as s:
        st.put_pending(session=s, token="tok", kind="button", payload={"actions": ["close"]},
                       expires_at=now + timedelta(minutes=1))
    won, errors = [], []

    def decide(i: int) -> None:
        try:
            with session_scope(engine) as s:
                if st.decide_pending(session=s, token="tok", kind="button", record={"by": i}, now=now,
                                     keep_until=now + timedelta(days=1)):
                    won.append(i)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(won) == 1
    with session_scope(engine) as s:
        assert st.peek_pending(session=s, token="tok", kind="decided", now=now) == {"by": won[0]}


def test_heartbeats(engine, now):
    with session_scope(engine) as s:
        assert st.heartbeat(session=s, name="tick") is None
        st.beat(session=s, name="tick", at=now)
        st.beat(session=s, name="chat", at=now, detail="polling", now=now + timedelta(seconds=1))
    with session_scope(engine) as s:
        st.beat(session=s, name="chat", at=now + timedelta(seconds=15), detail="webhook")
        tick, chat = st.heartbeat(session=s, name="tick"), st.heartbeat(session=s, name="chat")
        assert tick is not None and tick.at == now and tick.detail is None
        assert chat is not None and chat.at == now + timedelta(seconds=15) and chat.detail == "webhook"


def test_prune_applies_each_retention_rule(engine, now):
    today = now.date()
    with session_scope(engine) as s:
        for days in (0, 1, 7, 8, 30):
            st.record_day_start(session=s, day=today - timedelta(days=days), equity=Decimal(1000 + days))
        for days in (0, 1, 2):
            st.first_alert(session=s, day=today - timedelta(days=days), reason="loss limit")
        st.new_bar(session=s, symbol="BTCUSDT", bar_time=now - timedelta(minutes=5))
        st.new_bar(session=s, symbol="OLDUSDT", bar_time=now - timedelta(days=31))
        st.new_bar(session=s, symbol="EDGEUSDT", bar_time=now - timedelta(days=30))
        old = now - timedelta(days=2)
        st.set_unknown_position(session=s, symbol="ADOPTED", size=Decimal(1), decision="adopt", now=old)
        st.set_unknown_position(session=s, symbol="CLOSED", size=Decimal(1), decision="close", now=old)
        st.set_unknown_position(session=s, symbol="FRESH", size=Decimal(1), decision="adopt", now=now)
        st.set_unknown_position(session=s, symbol="IGNORED", size=Decimal(1), decision="ignore", now=old)
        st.set_unknown_position(session=s, symbol="WAITING", size=Decimal(1), first_seen=old, now=old)
        st.put_pending(session=s, token="gone", kind="button", payload={}, expires_at=now - timedelta(seconds=1))
        st.put_pending(session=s, token="live", kind="button", payload={}, expires_at=now)
        st.save_settings(session=s, paused=True, now=old)
        st.beat(session=s, name="tick", at=old)
    with session_scope(engine) as s:
        counts = st.prune(session=s, now=now)
    assert counts == {"day_marks": 2, "protection_alerts": 1, "seen_bars": 1, "unknown_positions": 2,
                      "pending_actions": 1}
    with session_scope(engine) as s:
        assert sorted((today - r.day).days for r in s.exec(select(DayMark)).all()) == [0, 1, 7]
        assert sorted((today - r.day).days for r in s.exec(select(ProtectionAlert)).all()) == [0, 1]
        assert sorted(r.symbol for r in s.exec(select(SeenBar)).all()) == ["BTCUSDT", "EDGEUSDT"]
        assert sorted(r.symbol for r in s.exec(select(UnknownPosition)).all()) == ["FRESH", "IGNORED", "WAITING"]
        assert [r.token for r in s.exec(select(PendingAction)).all()] == ["live"]
        assert st.load_settings(session=s).paused and st.heartbeat(session=s, name="tick") is not None
        assert st.prune(session=s, now=now) == dict.fromkeys(counts, 0)  # idempotent
