"""Trade lifecycle and funding journal operations; re-exported by :mod:`storage.repo`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select, update

from storage._common import check, insert_ignore, rowcount
from storage.models import CLOSE_REASONS, ORIGINS, SIDES, FundingRecord, TradeRecord
from storage.types import as_utc, to_money
from tradebot.states import StopMove, StopMoveReason

# ---------------------------------------------------------------- trades


def open_trade(
    session: Session,
    *,
    symbol: str,
    side: str,
    qty: Decimal,
    entry_price: Decimal,
    entry_time: datetime,
    entry_fee: Decimal = Decimal(0),
    entry_order_link_id: str | None = None,
    sl: Decimal | None = None,
    tp: Decimal | None = None,
    trailing_distance: Decimal | None = None,
    trailing_active_price: Decimal | None = None,
    adopted: bool = False,
    adopted_at: datetime | None = None,
    signal_id: int | None = None,
    confirmation_id: str | None = None,
    atr: Decimal | None = None,
    origin: str = "signal",
) -> TradeRecord:
    """Start a position lifecycle (``entry_qty`` = ``qty``). Raises ValueError if ``symbol`` already has an open
    trade. ``origin``: "signal" or "manual" (/long, /short)."""
    check(side, SIDES, "side")
    check(origin, ORIGINS, "origin")
    if get_open_trade(session=session, symbol=symbol) is not None:
        raise ValueError(f"{symbol} already has an open trade")
    entry_time = as_utc(entry_time)
    money = {k: None if v is None else to_money(v) for k, v in
             {"sl": sl, "tp": tp, "trailing_distance": trailing_distance,
              "trailing_active_price": trailing_active_price, "atr": atr}.items()}
    history = [] if sl is None else [StopMove(StopMoveReason.INITIAL, money["sl"], entry_time).to_json()]
    trade = TradeRecord(
        symbol=symbol, side=side, qty=to_money(qty), entry_qty=to_money(qty), entry_price=to_money(entry_price),
        entry_time=entry_time, adopted_at=None if adopted_at is None else as_utc(adopted_at),
        entry_fee=to_money(entry_fee), entry_order_link_id=entry_order_link_id, best_price=to_money(entry_price),
        stop_history=history, status="open", adopted=adopted, signal_id=signal_id,
        confirmation_id=confirmation_id, sl=money["sl"], tp=money["tp"],
        trailing_distance=money["trailing_distance"], trailing_active_price=money["trailing_active_price"],
        atr=money["atr"], origin=origin,
    )
    session.add(trade)
    session.flush()
    return trade


def get_trade(session: Session, *, id: int) -> TradeRecord | None:
    """Trade by id, as stored now."""
    return session.get(TradeRecord, id, populate_existing=True)


def get_open_trade(session: Session, *, symbol: str) -> TradeRecord | None:
    """The open trade on ``symbol`` (there is at most one)."""
    stmt = select(TradeRecord).where(TradeRecord.symbol == symbol, TradeRecord.status == "open")
    return session.exec(stmt).first()


def open_trades(session: Session) -> list[TradeRecord]:
    """All open trades, oldest entry first."""
    stmt = select(TradeRecord).where(TradeRecord.status == "open").order_by(col(TradeRecord.entry_time))
    return list(session.exec(stmt).all())


def _locked_trade(session: Session, trade_id: int) -> TradeRecord:
    trade = session.get(TradeRecord, trade_id, with_for_update=True, populate_existing=True)
    if trade is None:
        raise ValueError(f"no trade with id {trade_id}")
    return trade


def update_trade_stop(
    session: Session, *, trade_id: int, sl: Decimal, reason: StopMoveReason, now: datetime, breakeven: bool = False,
    by: str | None = None,
) -> TradeRecord:
    """Set the stop and append ``{time, sl, reason}`` (and ``by``, who moved it by hand) to ``stop_history``;
    ``breakeven`` sets breakeven_done."""
    trade = _locked_trade(session, trade_id)
    trade.sl = to_money(sl)
    trade.stop_history = [*trade.stop_history, StopMove(StopMoveReason(reason), trade.sl, as_utc(now), by).to_json()]
    if breakeven:
        trade.breakeven_done = True
    session.add(trade)
    session.flush()
    return trade


def update_trade(
    session: Session,
    *,
    trade_id: int,
    best_price: Decimal | None = None,
    tp: Decimal | None = None,
    qty: Decimal | None = None,
    trailing_distance: Decimal | None = None,
    trailing_active_price: Decimal | None = None,
    entry_fee: Decimal | None = None,
    funding_fee: Decimal | None = None,
    breakeven_done: bool | None = None,
) -> TradeRecord:
    """Change tracking fields of a trade (None = unchanged). Use update_trade_stop for the stop."""
    trade = _locked_trade(session, trade_id)
    money = {"best_price": best_price, "tp": tp, "qty": qty, "trailing_distance": trailing_distance,
             "trailing_active_price": trailing_active_price, "entry_fee": entry_fee, "funding_fee": funding_fee}
    for name, value in money.items():
        if value is not None:
            setattr(trade, name, to_money(value))
    if breakeven_done is not None:
        trade.breakeven_done = breakeven_done
    session.add(trade)
    session.flush()
    return trade


def close_trade(
    session: Session,
    *,
    trade_id: int,
    exit_price: Decimal,
    exit_time: datetime,
    pnl: Decimal,
    reason: str,
    exit_order_id: str,
    exit_qty: Decimal | None = None,
    exit_fee: Decimal = Decimal(0),
    funding_fee: Decimal | None = None,
    entry_fee: Decimal | None = None,
) -> TradeRecord | None:
    """Close a trade with the exchange's closed-PnL rows; returns it, or None if ``exit_order_id`` is known.

    ``entry_fee`` (None = unchanged): the opening fees the exchange charged the whole trade (closed-pnl openFee).

    Idempotent: a repeat with the same ``exit_order_id`` is a no-op (None). Closing an already closed
    trade with a different ``exit_order_id`` raises ValueError.
    """
    check(reason, CLOSE_REASONS, "reason")
    if session.exec(select(TradeRecord.id).where(TradeRecord.exit_order_id == exit_order_id)).first():
        return None
    values: dict[str, Any] = {
        "status": "closed", "exit_price": to_money(exit_price), "exit_time": as_utc(exit_time),
        "pnl": to_money(pnl), "reason": reason, "exit_order_id": exit_order_id, "exit_fee": to_money(exit_fee),
    }
    values["exit_qty"] = col(TradeRecord.qty) if exit_qty is None else to_money(exit_qty)
    if exit_qty is not None:  # closed: the whole qty the trade closed (open, it follows the position's size)
        values["qty"] = to_money(exit_qty)
    if funding_fee is not None:
        values["funding_fee"] = to_money(funding_fee)
    if entry_fee is not None:
        values["entry_fee"] = to_money(entry_fee)
    stmt = (
        update(TradeRecord).where(col(TradeRecord.id) == trade_id, col(TradeRecord.status) == "open")
        .values(**values).execution_options(synchronize_session=False)
    )
    if rowcount(session.exec(stmt)) != 1:
        trade = get_trade(session=session, id=trade_id)
        if trade is None:
            raise ValueError(f"no trade with id {trade_id}")
        raise ValueError(f"trade {trade_id} is already closed (exit_order_id={trade.exit_order_id})")
    return get_trade(session=session, id=trade_id)


def closed_trades(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    symbol: str | None = None,
    limit: int | None = None,
    newest_first: bool = True,
) -> list[TradeRecord]:
    """Closed trades with ``since <= exit_time < until`` (either bound optional)."""
    stmt = select(TradeRecord).where(TradeRecord.status == "closed")
    if since is not None:
        stmt = stmt.where(col(TradeRecord.exit_time) >= as_utc(since))
    if until is not None:
        stmt = stmt.where(col(TradeRecord.exit_time) < as_utc(until))
    if symbol:
        stmt = stmt.where(TradeRecord.symbol == symbol)
    order = [col(TradeRecord.exit_time), col(TradeRecord.id)]
    stmt = stmt.order_by(*([c.desc() for c in order] if newest_first else order))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt).all())


# ---------------------------------------------------------------- funding


def record_funding(session: Session, *, exec_id: str, symbol: str, fee: Decimal, time: datetime) -> bool:
    """Store a funding settlement once per ``exec_id``; True if new, False if already stored."""
    values = {"exec_id": exec_id, "symbol": symbol, "fee": to_money(fee), "time": as_utc(time)}
    return insert_ignore(session, FundingRecord, values, ["exec_id"])


def funding_records(
    session: Session, *, since: datetime | None = None, until: datetime | None = None, symbol: str | None = None
) -> list[FundingRecord]:
    """Funding settlements with ``since <= time < until``, oldest first."""
    stmt = select(FundingRecord)
    if since is not None:
        stmt = stmt.where(col(FundingRecord.time) >= as_utc(since))
    if until is not None:
        stmt = stmt.where(col(FundingRecord.time) < as_utc(until))
    if symbol:
        stmt = stmt.where(FundingRecord.symbol == symbol)
    return list(session.exec(stmt.order_by(col(FundingRecord.time), col(FundingRecord.id))).all())
