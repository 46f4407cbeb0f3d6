"""Confirmation lifecycle: claim is atomic (one winner), expiry, guarded status changes."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from storage import repo, session_scope

TTL = timedelta(minutes=5)


def _create(engine, now, **kw):
    with session_scope(engine) as s:
        c = repo.create_confirmation(session=s, symbol="BTCUSDT", side="Buy", qty=Decimal("0.002"),
                                     price=Decimal("65432.1"), sl=Decimal("64000"), tp=Decimal("68000"),
                                     risk_usdt=Decimal("2.8632"), ttl=kw.pop("ttl", TTL), now=now, **kw)
        return c.id


def test_create_and_get(engine, now):
    cid = _create(engine, now, chat_id=-1001234567890)
    assert len(cid) <= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", cid)
    with session_scope(engine) as s:
        c = repo.get_confirmation(session=s, id=cid)
    assert c.status == "pending" and c.expires_at == now + TTL and c.created_at == now
    assert c.qty == Decimal("0.002") and c.risk_usdt == Decimal("2.8632")
    assert c.chat_id == -1001234567890


def test_ids_are_unique(engine, now):
    assert len({_create(engine, now) for _ in range(20)}) == 20


def test_side_validated(engine, now):
    with pytest.raises(ValueError, match="side"):
        with session_scope(engine) as s:
            repo.create_confirmation(session=s, symbol="X", side="buy", qty=1, price=1, ttl=TTL, now=now)


def test_claim_once(engine, now):
    cid = _create(engine, now)
    with session_scope(engine) as s:
        won = repo.claim_confirmation(session=s, id=cid, user_id=7, now=now + timedelta(seconds=10))
        assert won is not None and won.status == "approved" and won.decided_by == 7
        assert won.decided_at == now + timedelta(seconds=10)
    with session_scope(engine) as s:
        assert repo.claim_confirmation(session=s, id=cid, user_id=8, now=now + timedelta(seconds=11)) is None
        assert repo.get_confirmation(session=s, id=cid).decided_by == 7


def test_claim_unknown_id(engine, now):
    with session_scope(engine) as s:
        assert repo.claim_confirmation(session=s, id="nope", user_id=1, now=now) is None


def test_expired_not_claimable(engine, now):
    cid = _create(engine, now)
    with session_scope(engine) as s:
        assert repo.claim_confirmation(session=s, id=cid, user_id=1, now=now + TTL) is None  # boundary
        assert repo.claim_confirmation(session=s, id=cid, user_id=1, now=now + TTL + timedelta(seconds=1)) is None
        assert repo.get_confirmation(session=s, id=cid).status == "pending"
    with session_scope(engine) as s:
        ok = repo.claim_confirmation(session=s, id=cid, user_id=1, now=now + TTL - timedelta(microseconds=1))
        assert ok is not None


def test_claim_race_threads_exactly_one_winner(engine, now):
    cid = _create(engine, now)
    n = 6
    barrier = threading.Barrier(n)
    results: list = []
    errors: list = []

    def worker(uid):
        try:
            with session_scope(engine) as s:
                barrier.wait(timeout=10)
                won = repo.claim_confirmation(session=s, id=cid, user_id=uid, now=now + timedelta(seconds=1))
                results.append((uid, won is not None))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(uid,)) for uid in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    winners = [uid for uid, won in results if won]
    assert len(results) == n and len(winners) == 1
    with session_scope(engine) as s:
        c = repo.get_confirmation(session=s, id=cid)
    assert c.status == "approved" and c.decided_by == winners[0]


def test_claim_second_session_waits_for_first_then_loses(engine, now):
    """Session A has claimed but not committed; B's claim must not also succeed."""
    cid = _create(engine, now)
    t1 = now + timedelta(seconds=1)
    outcome: dict = {}
    with session_scope(engine) as a:
        assert repo.claim_confirmation(session=a, id=cid, user_id=1, now=t1) is not None

        def other():
            with session_scope(engine) as b:
                outcome["b"] = repo.claim_confirmation(session=b, id=cid, user_id=2, now=t1)

        th = threading.Thread(target=other)
        th.start()
        time.sleep(0.3)  # B blocks on A's row/write lock (PostgreSQL, SQLite file) meanwhile
    th.join(timeout=15)
    assert not th.is_alive()
    assert outcome["b"] is None
    with session_scope(engine) as s:
        assert repo.get_confirmation(session=s, id=cid).decided_by == 1


def test_claim_rolled_back_leaves_pending(engine, now):
    cid = _create(engine, now)
    with pytest.raises(RuntimeError):
        with session_scope(engine) as s:
            assert repo.claim_confirmation(session=s, id=cid, user_id=1, now=now) is not None
            raise RuntimeError("order placement crashed before commit")
    with session_scope(engine) as s:
        assert repo.get_confirmation(session=s, id=cid).status == "pending"


def test_expire_confirmations(engine, now):
    old = _create(engine, now - timedelta(minutes=10))
    edge = _create(engine, now - TTL)
    fresh = _create(engine, now)
    claimed = _create(engine, now - timedelta(minutes=10))
    with session_scope(engine) as s:
        repo.set_confirmation_status(session=s, id=claimed, status="rejected", expected="pending")
    with session_scope(engine) as s:
        assert sorted(repo.expire_confirmations(session=s, now=now)) == sorted([old, edge])
    with session_scope(engine) as s:
        assert repo.expire_confirmations(session=s, now=now) == []
        statuses = {c: repo.get_confirmation(session=s, id=c).status for c in (old, edge, fresh, claimed)}
        assert statuses == {old: "expired", edge: "expired", fresh: "pending", claimed: "rejected"}
        assert [c.id for c in repo.pending_confirmations(session=s)] == [fresh]
        assert repo.claim_confirmation(session=s, id=old, user_id=1, now=now - timedelta(minutes=9)) is None


def test_status_transitions_guarded(engine, now):
    cid = _create(engine, now)
    with session_scope(engine) as s:
        assert not repo.set_confirmation_status(session=s, id=cid, status="executing", expected="approved")
        assert repo.claim_confirmation(session=s, id=cid, user_id=5, now=now) is not None
        assert repo.set_confirmation_status(session=s, id=cid, status="executing", expected="approved",
                                            order_link_id="tb-1")
        assert not repo.set_confirmation_status(session=s, id=cid, status="executing", expected="approved")
        assert repo.set_confirmation_status(session=s, id=cid, status="executed", expected=("executing",),
                                            result_text="filled 0.002 @ 65430")
        repo.set_confirmation_message(session=s, id=cid, chat_id=42, message_id=9001)
    with session_scope(engine) as s:
        c = repo.get_confirmation(session=s, id=cid)
    assert (c.status, c.order_link_id, c.result_text) == ("executed", "tb-1", "filled 0.002 @ 65430")
    assert (c.chat_id, c.message_id, c.decided_by) == (42, 9001, 5)
    with pytest.raises(ValueError):
        with session_scope(engine) as s:
            repo.set_confirmation_status(session=s, id=cid, status="done")


def test_reject_stamps_decider(engine, now):
    cid = _create(engine, now)
    with session_scope(engine) as s:
        assert repo.set_confirmation_status(session=s, id=cid, status="rejected", expected="pending",
                                            decided_by=3, now=now + timedelta(seconds=2))
        c = repo.get_confirmation(session=s, id=cid)
        assert (c.status, c.decided_by, c.decided_at) == ("rejected", 3, now + timedelta(seconds=2))
        assert repo.claim_confirmation(session=s, id=cid, user_id=4, now=now) is None
