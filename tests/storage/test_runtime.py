"""Outbox delivery queue, audit log and the instance lock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from storage import repo, session_scope


def test_outbox_order_due_retry_and_failure(engine, now):
    markup = {"inline_keyboard": [[{"text": "Approve", "callback_data": "ok:abc"}]]}
    with session_scope(engine) as s:
        a = repo.enqueue(session=s, chat_id=-1001234567890, kind="signal", text="A", now=now,
                         parse_mode="HTML", reply_markup=markup, photo=b"\x89PNG\x00\xff")
        b = repo.enqueue(session=s, chat_id=42, kind="fill", text="B", now=now)
        later = repo.enqueue(session=s, chat_id=42, kind="report", text="L", now=now,
                             send_at=now + timedelta(minutes=10))
        ids = a.id, b.id, later.id
    with session_scope(engine) as s:
        due = repo.due_messages(session=s, now=now)
        assert [m.id for m in due] == [ids[0], ids[1]]
        assert due[0].reply_markup == markup and due[0].photo == b"\x89PNG\x00\xff"
        assert due[0].chat_id == -1001234567890 and due[0].parse_mode == "HTML"
        assert [m.id for m in repo.due_messages(session=s, now=now, limit=1)] == [ids[0]]
        repo.mark_failed(session=s, id=ids[0], error="Timed out", now=now, retry_at=now + timedelta(seconds=30))
        repo.mark_sent(session=s, id=ids[1], now=now, sent_message_id=777)
    with session_scope(engine) as s:
        assert repo.due_messages(session=s, now=now + timedelta(seconds=29)) == []
        due = repo.due_messages(session=s, now=now + timedelta(minutes=20))
        assert [m.id for m in due] == [ids[0], ids[2]]  # original order once both are due
        assert (due[0].attempts, due[0].last_error) == (1, "Timed out")
        repo.mark_failed(session=s, id=ids[0], error="Forbidden: bot was blocked", now=now)
    with session_scope(engine) as s:
        assert [m.id for m in repo.due_messages(session=s, now=now + timedelta(days=1))] == [ids[2]]
        failed = s.get(type(a), ids[0])
        sent = s.get(type(a), ids[1])
        assert (failed.status, failed.attempts) == ("failed", 2)
        assert (sent.status, sent.sent_message_id, sent.sent_at, sent.attempts) == ("sent", 777, now, 1)
        with pytest.raises(ValueError):
            repo.mark_sent(session=s, id=99999, now=now)


def test_outbox_card_lookup(engine, now):
    with session_scope(engine) as s:
        cid = repo.create_confirmation(session=s, symbol="BTCUSDT", side="Sell", qty=1, price=1,
                                       ttl=timedelta(minutes=1), now=now).id
        m = repo.enqueue(session=s, chat_id=1, kind="confirm", text="card", now=now, confirmation_id=cid)
        assert repo.sent_message_for_confirmation(session=s, confirmation_id=cid) is None
        repo.mark_sent(session=s, id=m.id, now=now, sent_message_id=55)
        assert repo.sent_message_for_confirmation(session=s, confirmation_id=cid).sent_message_id == 55


def test_audit(engine, now):
    with session_scope(engine) as s:
        repo.audit(session=s, user_id=7, chat_id=7, update_kind="command", action="pause", args="1h",
                   allowed=True, result="paused", now=now)
        repo.audit(session=s, user_id=666, chat_id=666, update_kind="callback", action="approve",
                   allowed=False, result="not authorised", now=now + timedelta(seconds=1))
    with session_scope(engine) as s:
        rows = repo.recent_audit(session=s)
        assert [(r.user_id, r.allowed, r.action) for r in rows] == [(666, False, "approve"), (7, True, "pause")]
        assert rows[1].time == now and rows[1].args == "1h"
        assert [r.action for r in repo.recent_audit(session=s, user_id=7)] == ["pause"]


def test_lock_rules(engine, now):
    stale = timedelta(seconds=60)
    with session_scope(engine) as s:
        assert repo.acquire_lock(session=s, name="bot", owner="h:1:a", now=now, stale_after=stale)
    with session_scope(engine) as s:
        assert repo.acquire_lock(session=s, name="bot", owner="h:1:a", now=now, stale_after=stale)  # re-entrant
        assert not repo.acquire_lock(session=s, name="bot", owner="h:2:b", now=now + timedelta(seconds=30),
                                     stale_after=stale)
        assert repo.heartbeat_lock(session=s, name="bot", owner="h:1:a", now=now + timedelta(seconds=50))
        # heartbeat exactly stale_after old is still live
        assert not repo.acquire_lock(session=s, name="bot", owner="h:2:b", now=now + timedelta(seconds=110),
                                     stale_after=stale)
        assert not repo.release_lock(session=s, name="bot", owner="h:2:b")
    with session_scope(engine) as s:  # heartbeat older than stale_after: takeover
        t = now + timedelta(seconds=111)
        assert repo.acquire_lock(session=s, name="bot", owner="h:2:b", now=t, stale_after=stale)
        holder = repo.lock_holder(session=s, name="bot")
        assert (holder.owner, holder.acquired_at, holder.heartbeat_at) == ("h:2:b", t, t)
        assert not repo.heartbeat_lock(session=s, name="bot", owner="h:1:a", now=t)  # old owner learns it lost
        assert repo.release_lock(session=s, name="bot", owner="h:2:b")
        assert repo.lock_holder(session=s, name="bot") is None
        assert repo.acquire_lock(session=s, name="bot", owner="h:1:a", now=t, stale_after=stale)
        assert repo.acquire_lock(session=s, name="other", owner="h:2:b", now=t, stale_after=stale)


def test_lock_race_one_owner(engine):
    now = datetime.now(UTC)
    barrier = threading.Barrier(4)
    got, errors = [], []

    def contender(i):
        try:
            with session_scope(engine) as s:
                barrier.wait(timeout=10)
                if repo.acquire_lock(session=s, name="bot", owner=f"h:{i}", now=now,
                                     stale_after=timedelta(seconds=60)):
                    got.append(i)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(got) == 1
