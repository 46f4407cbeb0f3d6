"""Runtime journal operations: Telegram outbox, audit log, instance lock (via storage.repo)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, delete, select, update

from storage._common import insert_ignore, rowcount
from storage.models import AuditLog, InstanceLock, OutboxMessage
from storage.types import as_utc
from tradebot.timeutil import utcnow

# ---------------------------------------------------------------- outbox


def enqueue(
    session: Session,
    *,
    chat_id: int,
    kind: str,
    text: str,
    now: datetime | None = None,
    parse_mode: str | None = None,
    reply_markup: dict[str, Any] | None = None,
    photo: bytes | None = None,
    confirmation_id: str | None = None,
    send_at: datetime | None = None,
) -> OutboxMessage:
    """Queue a message for delivery (at ``send_at``, default now)."""
    now = as_utc(now) if now else utcnow()
    msg = OutboxMessage(
        chat_id=chat_id, kind=kind, text=text, parse_mode=parse_mode, reply_markup=reply_markup, photo=photo,
        confirmation_id=confirmation_id, status="pending", attempts=0, created_at=now,
        next_attempt_at=as_utc(send_at) if send_at else now,
    )
    session.add(msg)
    session.flush()
    return msg


def due_messages(session: Session, *, now: datetime, limit: int = 20) -> list[OutboxMessage]:
    """Pending messages whose ``next_attempt_at <= now``, in enqueue order (id)."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", col(OutboxMessage.next_attempt_at) <= as_utc(now))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return list(session.exec(stmt).all())


def mark_sent(session: Session, *, id: int, now: datetime, sent_message_id: int | None = None) -> None:
    """Record a successful delivery."""
    msg = _message(session, id)
    msg.status, msg.sent_at, msg.sent_message_id = "sent", as_utc(now), sent_message_id
    msg.attempts += 1
    session.add(msg)
    session.flush()


def mark_failed(
    session: Session, *, id: int, error: str, now: datetime, retry_at: datetime | None = None
) -> None:
    """Record a failed attempt: retried at ``retry_at`` if given, else marked failed for good."""
    msg = _message(session, id)
    msg.attempts += 1
    msg.last_error = error[:2000]
    if retry_at is None:
        msg.status = "failed"
    else:
        msg.next_attempt_at = max(as_utc(retry_at), as_utc(now))
    session.add(msg)
    session.flush()


def sent_message_for_confirmation(session: Session, *, confirmation_id: str) -> OutboxMessage | None:
    """The latest delivered message carrying this confirmation's card (to edit it later)."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.confirmation_id == confirmation_id, OutboxMessage.status == "sent")
        .order_by(col(OutboxMessage.id).desc())
    )
    return session.exec(stmt).first()


def card_messages(session: Session, *, confirmation_id: str, kind: str) -> list[OutboxMessage]:
    """Every outbox row of ``kind`` for one confirmation card (each chat's copy), in queue order."""
    stmt = select(OutboxMessage).where(OutboxMessage.confirmation_id == confirmation_id, OutboxMessage.kind == kind)
    return list(session.exec(stmt.order_by(col(OutboxMessage.id))).all())


def messages_of_kind(session: Session, *, kind: str) -> list[OutboxMessage]:
    """Every outbox row of ``kind`` (e.g. each chat's copy of one card), in queue order."""
    stmt = select(OutboxMessage).where(OutboxMessage.kind == kind)
    return list(session.exec(stmt.order_by(col(OutboxMessage.id))).all())


def _message(session: Session, id: int) -> OutboxMessage:
    msg = session.get(OutboxMessage, id, with_for_update=True, populate_existing=True)
    if msg is None:
        raise ValueError(f"no outbox message with id {id}")
    return msg


# ---------------------------------------------------------------- audit


def audit(
    session: Session,
    *,
    update_kind: str,
    action: str,
    allowed: bool,
    user_id: int | None = None,
    chat_id: int | None = None,
    args: str | None = None,
    result: str | None = None,
    now: datetime | None = None,
) -> AuditLog:
    """Append one audit row."""
    row = AuditLog(
        time=as_utc(now) if now else utcnow(), user_id=user_id, chat_id=chat_id, update_kind=update_kind,
        action=action, args=args, allowed=allowed, result=result,
    )
    session.add(row)
    session.flush()
    return row


def recent_audit(session: Session, *, limit: int = 50, user_id: int | None = None) -> list[AuditLog]:
    """Newest audit rows first."""
    stmt = select(AuditLog)
    if user_id is not None:
        stmt = stmt.where(AuditLog.user_id == user_id)
    return list(session.exec(stmt.order_by(col(AuditLog.id).desc()).limit(limit)).all())


# ---------------------------------------------------------------- instance lock


def acquire_lock(session: Session, *, name: str, owner: str, now: datetime, stale_after: timedelta) -> bool:
    """Take lock ``name`` for ``owner``: True if free, already ours, or stale (heartbeat older than
    ``stale_after``); False while another owner's heartbeat is fresh. Commit promptly after it.
    """
    now = as_utc(now)
    if insert_ignore(session, InstanceLock, {"name": name, "owner": owner, "acquired_at": now,
                                             "heartbeat_at": now}, ["name"]):
        return True
    mine = (
        update(InstanceLock).where(col(InstanceLock.name) == name, col(InstanceLock.owner) == owner)
        .values(heartbeat_at=now).execution_options(synchronize_session=False)
    )
    if rowcount(session.exec(mine)) == 1:
        return True
    takeover = (
        update(InstanceLock)
        .where(col(InstanceLock.name) == name, col(InstanceLock.heartbeat_at) < now - stale_after)
        .values(owner=owner, acquired_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.exec(takeover)) == 1


def heartbeat_lock(session: Session, *, name: str, owner: str, now: datetime) -> bool:
    """Refresh our heartbeat; False means the lock is no longer ours (stop working)."""
    stmt = (
        update(InstanceLock).where(col(InstanceLock.name) == name, col(InstanceLock.owner) == owner)
        .values(heartbeat_at=as_utc(now)).execution_options(synchronize_session=False)
    )
    return rowcount(session.exec(stmt)) == 1


def release_lock(session: Session, *, name: str, owner: str) -> bool:
    """Drop the lock if we hold it; True if released."""
    stmt = (
        delete(InstanceLock).where(col(InstanceLock.name) == name, col(InstanceLock.owner) == owner)
        .execution_options(synchronize_session=False)
    )
    return rowcount(session.exec(stmt)) == 1


def lock_holder(session: Session, *, name: str) -> InstanceLock | None:
    """Current row of lock ``name`` (who holds it, last heartbeat)."""
    return session.get(InstanceLock, name, populate_existing=True)

