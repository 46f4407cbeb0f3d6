"""Journal operations (signals, confirmations, orders) plus re-exports of trades/outbox/audit/locks."""

# Conventions for every repo function: keyword-only, the caller's ``session`` passed in, no commit
# (use ``session_scope``); times must be timezone-aware; money is Decimal (or int/str), never float.

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select, update

from storage._common import check, rowcount
from storage.models import (
    CONFIRMATION_STATUSES,
    ORDER_PURPOSES,
    ORIGINS,
    SIDES,
    TERMINAL_ORDER_STATUSES,
    Confirmation,
    OrderRecord,
    SignalRecord,
)
from storage.runtime import (  # noqa: F401  (re-exported: one import point for callers)
    acquire_lock,
    audit,
    due_messages,
    enqueue,
    heartbeat_lock,
    lock_holder,
    mark_failed,
    mark_sent,
    recent_audit,
    release_lock,
    sent_message_for_confirmation,
)
from storage.trades import (  # noqa: F401  (re-exported)
    close_trade,
    closed_trades,
    funding_records,
    get_open_trade,
    get_trade,
    open_trade,
    open_trades,
    record_funding,
    update_trade,
    update_trade_stop,
)
from storage.types import as_utc, to_money
from tradebot.timeutil import utcnow

# ---------------------------------------------------------------- signals


def record_signal(
    session: Session,
    *,
    symbol: str,
    time: datetime,
    price: Decimal,
    action: str,
    score: float,
    threshold: float,
    atr: Decimal | None = None,
    breakdown: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> SignalRecord:
    """Store one strategy evaluation; returns it with ``id`` set."""
    rec = SignalRecord(
        symbol=symbol, time=as_utc(time), price=to_money(price), action=action, score=float(score),
        threshold=float(threshold), atr=None if atr is None else to_money(atr), breakdown=breakdown,
        created_at=as_utc(now) if now else utcnow(),
    )
    session.add(rec)
    session.flush()
    return rec


def note_signal(session: Session, *, signal_id: int, not_traded: str) -> None:
    """Record on a signal why it was not traded (e.g. the sizing refused it: fees above max_fee_share)."""
    rec = session.get(SignalRecord, signal_id)
    if rec is not None:
        rec.breakdown = {**(rec.breakdown or {}), "not_traded": not_traded}
        session.add(rec)
        session.flush()


def recent_signals(session: Session, *, symbol: str | None = None, limit: int = 20) -> list[SignalRecord]:
    """Newest signals first."""
    stmt = select(SignalRecord)
    if symbol:
        stmt = stmt.where(SignalRecord.symbol == symbol)
    stmt = stmt.order_by(col(SignalRecord.time).desc(), col(SignalRecord.id).desc()).limit(limit)
    return list(session.exec(stmt).all())


# ---------------------------------------------------------------- confirmations


def create_confirmation(
    session: Session,
    *,
    symbol: str,
    side: str,
    qty: Decimal,
    price: Decimal,
    ttl: timedelta,
    now: datetime,
    sl: Decimal | None = None,
    tp: Decimal | None = None,
    risk_usdt: Decimal | None = None,
    signal_id: int | None = None,
    chat_id: int | None = None,
    origin: str = "signal",
) -> Confirmation:
    """New pending confirmation expiring at ``now + ttl``; its random ``id`` goes in callback data. ``origin``:
    "signal", or "manual" for a card asked by /long or /short."""
    check(side, SIDES, "side")
    check(origin, ORIGINS, "origin")
    now = as_utc(now)
    conf = Confirmation(
        symbol=symbol, side=side, qty=to_money(qty), price=to_money(price),
        sl=None if sl is None else to_money(sl), tp=None if tp is None else to_money(tp),
        risk_usdt=None if risk_usdt is None else to_money(risk_usdt), signal_id=signal_id,
        chat_id=chat_id, status="pending", created_at=now, expires_at=now + ttl, origin=origin,
    )
    session.add(conf)
    session.flush()
    return conf


def get_confirmation(session: Session, *, id: str) -> Confirmation | None:
    """The confirmation as stored now (refreshes any copy already in the session)."""
    return session.get(Confirmation, id, populate_existing=True)


def claim_confirmation(session: Session, *, id: str, user_id: int, now: datetime) -> Confirmation | None:
    """Atomically move pending → approved if still pending and unexpired; None if someone/something won.

    A single conditional UPDATE decides, so double taps and two devices cannot both win.
    """
    now = as_utc(now)
    stmt = (
        update(Confirmation)
        .where(col(Confirmation.id) == id, col(Confirmation.status) == "pending", col(Confirmation.expires_at) > now)
        .values(status="approved", decided_by=user_id, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(session.exec(stmt)) != 1:
        return None
    return get_confirmation(session=session, id=id)


def set_confirmation_status(
    session: Session,
    *,
    id: str,
    status: str,
    expected: str | Sequence[str] | None = None,
    now: datetime | None = None,
    decided_by: int | None = None,
    order_link_id: str | None = None,
    result_text: str | None = None,
) -> bool:
    """Set the status (only if the current one is in ``expected``, when given); True if a row changed.

    ``decided_by`` also stamps ``decided_at`` (``now`` or the current time).
    """
    check(status, CONFIRMATION_STATUSES, "status")
    values: dict[str, Any] = {"status": status}
    if decided_by is not None:
        values.update(decided_by=decided_by, decided_at=as_utc(now) if now else utcnow())
    if order_link_id is not None:
        values["order_link_id"] = order_link_id
    if result_text is not None:
        values["result_text"] = result_text
    stmt = update(Confirmation).where(col(Confirmation.id) == id)
    if expected is not None:
        allowed = [expected] if isinstance(expected, str) else list(expected)
        stmt = stmt.where(col(Confirmation.status).in_(allowed))
    changed = rowcount(session.exec(stmt.values(**values).execution_options(synchronize_session=False))) == 1
    if changed:
        get_confirmation(session=session, id=id)
    return changed


def set_confirmation_message(session: Session, *, id: str, chat_id: int, message_id: int) -> None:
    """Remember where the card was posted so it can be edited later."""
    session.exec(
        update(Confirmation).where(col(Confirmation.id) == id)
        .values(chat_id=chat_id, message_id=message_id).execution_options(synchronize_session=False)
    )


def pending_confirmations(session: Session, *, symbol: str | None = None) -> list[Confirmation]:
    """Pending confirmations, oldest first (expired ones included until swept)."""
    stmt = select(Confirmation).where(Confirmation.status == "pending")
    if symbol:
        stmt = stmt.where(Confirmation.symbol == symbol)
    return list(session.exec(stmt.order_by(col(Confirmation.created_at))).all())


def confirmations_with_status(session: Session, *, statuses: tuple[str, ...]) -> list[Confirmation]:
    """Confirmations in any of ``statuses`` (e.g. claimed ones a restart may have cut off), oldest first."""
    stmt = select(Confirmation).where(col(Confirmation.status).in_(statuses))
    return list(session.exec(stmt.order_by(col(Confirmation.created_at))).all())


def expire_confirmations(session: Session, *, now: datetime) -> list[str]:
    """Mark pending confirmations with ``expires_at <= now`` as expired; returns the ids this call expired."""
    now = as_utc(now)
    ids = session.exec(
        select(Confirmation.id).where(Confirmation.status == "pending", col(Confirmation.expires_at) <= now)
    ).all()
    expired = []
    for cid in ids:  # one conditional UPDATE each, so a concurrent claim is never reported as expired
        stmt = (
            update(Confirmation).where(col(Confirmation.id) == cid, col(Confirmation.status) == "pending")
            .values(status="expired", decided_at=now).execution_options(synchronize_session=False)
        )
        if rowcount(session.exec(stmt)) == 1:
            expired.append(cid)
    return expired


# ---------------------------------------------------------------- orders


def record_order(
    session: Session,
    *,
    order_link_id: str,
    symbol: str,
    side: str,
    order_type: str,
    qty: Decimal,
    purpose: str,
    price: Decimal | None = None,
    reduce_only: bool = False,
    status: str = "Sent",
    order_id: str | None = None,
    confirmation_id: str | None = None,
    trade_id: int | None = None,
    now: datetime | None = None,
) -> OrderRecord:
    """Journal an order before/as it is sent; ``order_link_id`` must be unique."""
    check(side, SIDES, "side")
    check(purpose, ORDER_PURPOSES, "purpose")
    now = as_utc(now) if now else utcnow()
    rec = OrderRecord(
        order_link_id=order_link_id, order_id=order_id, symbol=symbol, side=side, order_type=order_type,
        qty=to_money(qty), price=None if price is None else to_money(price), reduce_only=reduce_only,
        purpose=purpose, status=status, confirmation_id=confirmation_id, trade_id=trade_id,
        created_at=now, updated_at=now,
    )
    session.add(rec)
    session.flush()
    return rec


def get_order_by_link_id(session: Session, *, order_link_id: str) -> OrderRecord | None:
    """The order journalled under ``order_link_id``."""
    return session.exec(select(OrderRecord).where(OrderRecord.order_link_id == order_link_id)).first()


def update_order(
    session: Session,
    *,
    order_link_id: str,
    now: datetime | None = None,
    order_id: str | None = None,
    status: str | None = None,
    avg_price: Decimal | None = None,
    cum_exec_qty: Decimal | None = None,
    fee: Decimal | None = None,
    trade_id: int | None = None,
    error: str | None = None,
) -> OrderRecord | None:
    """Apply exchange updates (None = unchanged); None if unknown link id.

    Late/out-of-order reports cannot move a terminal status back to a live one, nor lower cum_exec_qty.
    """
    rec = session.exec(
        select(OrderRecord).where(OrderRecord.order_link_id == order_link_id).with_for_update()
    ).first()
    if rec is None:
        return None
    if order_id is not None:
        rec.order_id = order_id
    if status is not None and not (
        rec.status in TERMINAL_ORDER_STATUSES and status not in TERMINAL_ORDER_STATUSES
    ):
        rec.status = status
    if avg_price is not None:
        rec.avg_price = to_money(avg_price)
    if cum_exec_qty is not None and to_money(cum_exec_qty) >= rec.cum_exec_qty:
        rec.cum_exec_qty = to_money(cum_exec_qty)
    if fee is not None:
        rec.fee = to_money(fee)
    if trade_id is not None:
        rec.trade_id = trade_id
    if error is not None:
        rec.error = error
    rec.updated_at = as_utc(now) if now else utcnow()
    session.add(rec)
    session.flush()
    return rec


def open_orders(session: Session, *, symbol: str | None = None, purpose: str | None = None) -> list[OrderRecord]:
    """Orders not in a terminal status (incl. "Sent"/"Unknown"), oldest first."""
    stmt = select(OrderRecord).where(col(OrderRecord.status).not_in(TERMINAL_ORDER_STATUSES))
    if symbol:
        stmt = stmt.where(OrderRecord.symbol == symbol)
    if purpose:
        stmt = stmt.where(OrderRecord.purpose == purpose)
    return list(session.exec(stmt.order_by(col(OrderRecord.id))).all())
