"""The Journal: every database call the bot makes, as intent-level methods, run off the event loop.

The trading core, the chat handlers and the process wiring receive one :class:`Journal` and never open a session
themselves. Each method is one transaction run in the journal's own worker thread (see ARCHITECTURE.md for why a
thread rather than an async driver): the event loop only awaits it, so a slow database delays journal writes, never
Telegram polling or another symbol's tick. Rows come back detached (readable, not bound to a session).

The parts are grouped by what they journal: ``signals``, ``cards`` (confirmations), ``trades`` (orders, trades,
funding), ``outbox`` (Telegram messages), ``state`` (settings and marks kept across restarts) and ``ops`` (audit,
instance lock, heartbeats, retention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import repo, runtime, stats, trades
from storage.journal_state import Ops, State
from storage.models import Confirmation, OrderRecord, OutboxMessage, TradeRecord
from storage.trouble import DOWN
from storage.worker import Part, Worker
from tradebot.states import ConfirmationStatus as CS
from tradebot.states import StopMoveReason


class Signals(Part):
    async def record(self, *, symbol: str, time: datetime, price: Decimal, action: str, score: float,
                     threshold: float, atr: Decimal | None, breakdown: dict[str, Any], now: datetime) -> int | None:
        """Journal a new bar's signal; returns its id."""
        row = await self._call(repo.record_signal, symbol=symbol, time=time, price=price, action=action,
                               score=score, threshold=threshold, atr=atr, breakdown=breakdown, now=now)
        return row.id

    async def not_traded(self, signal_id: int, why: str) -> None:
        await self._call(repo.note_signal, signal_id=signal_id, not_traded=why)


class Cards(Part):
    """Confirmation cards: created, claimed once, settled."""

    async def create(self, *, symbol: str, side: str, qty: Decimal, price: Decimal, ttl: timedelta, now: datetime,
                     sl: Decimal | None, tp: Decimal | None, risk_usdt: Decimal | None,
                     signal_id: int | None, origin: str = "signal") -> Confirmation:
        return await self._call(repo.create_confirmation, symbol=symbol, side=side, qty=qty, price=price, ttl=ttl,
                                now=now, sl=sl, tp=tp, risk_usdt=risk_usdt, signal_id=signal_id, origin=origin)

    async def get(self, conf_id: str) -> Confirmation | None:
        return await self._call(repo.get_confirmation, id=conf_id)

    async def pending(self, symbol: str | None = None) -> list[Confirmation]:
        return await self._call(repo.pending_confirmations, symbol=symbol)

    async def with_status(self, statuses: tuple[str, ...]) -> list[Confirmation]:
        return await self._call(repo.confirmations_with_status, statuses=statuses)

    async def entering(self, symbol: str) -> bool:
        """True while an approved entry on ``symbol`` is being placed (a maker-first limit may rest for seconds)."""
        rows = await self.with_status((CS.APPROVED.value, CS.EXECUTING.value))
        return any(c.symbol == symbol for c in rows)

    async def claim(self, conf_id: str, user_id: int, now: datetime) -> tuple[Confirmation | None, str, bool]:
        """(the card, its status before this tap, whether this tap claimed it): one conditional UPDATE decides."""
        def work(s: Session) -> tuple[Confirmation | None, str, bool]:
            conf = repo.get_confirmation(session=s, id=conf_id)
            if conf is None:
                return None, "", False
            status = conf.status
            claimed = repo.claim_confirmation(session=s, id=conf_id, user_id=user_id, now=now) is not None
            return conf, status, claimed
        return await self._run(work)

    async def settle(self, conf_id: str, status: str, *, expected: str | Sequence[str] | None = None,
                     text: str | None = None, order_link_id: str | None = None) -> bool:
        """Move a card to ``status`` (only from ``expected`` when given); True if it changed."""
        return await self._call(repo.set_confirmation_status, id=conf_id, status=status, expected=expected,
                                result_text=text, order_link_id=order_link_id)

    async def reject(self, conf_id: str, user_id: int, now: datetime) -> tuple[bool, Confirmation | None]:
        """(whether this tap rejected the pending card, the card as it is now)."""
        def work(s: Session) -> tuple[bool, Confirmation | None]:
            ok = repo.set_confirmation_status(session=s, id=conf_id, status=CS.REJECTED, expected=CS.PENDING,
                                              now=now, decided_by=user_id)
            return ok, repo.get_confirmation(session=s, id=conf_id)
        return await self._run(work)

    async def expire(self, now: datetime) -> list[tuple[str, str]]:
        """Expire the cards past their time: (id, symbol) of each."""
        def work(s: Session) -> list[tuple[str, str]]:
            return [(cid, c.symbol) for cid in repo.expire_confirmations(session=s, now=now)
                    if (c := repo.get_confirmation(session=s, id=cid)) is not None]
        return await self._run(work)

    async def delivered(self, conf_id: str, chat_id: int, message_id: int) -> None:
        await self._call(repo.set_confirmation_message, id=conf_id, chat_id=chat_id, message_id=message_id)


@dataclass(frozen=True)
class EntryView:
    """What the entry gate needs from the journal, read in one transaction."""

    has_open: bool
    open_count: int
    recent: list[TradeRecord]


class Trades(Part):
    """Orders, trades (open → stop moves → close) and funding."""

    async def begin_entry(self, *, link: str, symbol: str, side: str, qty: Decimal,
                          confirmation_id: str | None) -> int | None:
        """Record an entry order about to be sent; returns the trade id when this entry already executed."""
        def work(s: Session) -> int | None:
            known = repo.get_order_by_link_id(session=s, order_link_id=link)
            if known is None:
                repo.record_order(session=s, order_link_id=link, symbol=symbol, side=side, order_type="Market",
                                  qty=qty, purpose="entry", status="Sent", confirmation_id=confirmation_id)
                return None
            return known.trade_id
        return await self._run(work)

    async def close_sent(self, *, link: str, symbol: str, side: str, qty: Decimal) -> None:
        await self._call(repo.record_order, order_link_id=link, symbol=symbol, side=side, order_type="Market",
                         qty=qty, purpose="close", reduce_only=True, status="Sent")

    async def order_update(self, link: str, *, status: str | None = None, order_id: str | None = None,
                           error: str | None = None, avg_price: Decimal | None = None,
                           cum_exec_qty: Decimal | None = None) -> None:
        await self._call(repo.update_order, order_link_id=link, status=status, order_id=order_id, error=error,
                         avg_price=avg_price, cum_exec_qty=cum_exec_qty)

    async def order(self, link: str) -> OrderRecord | None:
        return await self._call(repo.get_order_by_link_id, order_link_id=link)

    async def unresolved_entries(self) -> list[OrderRecord]:
        """Entry orders whose outcome is not journaled yet (no trade, not final)."""
        return [o for o in await self._call(repo.open_orders, purpose="entry") if o.trade_id is None]

    async def entry_missing(self, link: str, conf_id: str | None) -> None:
        """An entry order the exchange never saw: the order is rejected and its (claimed) card failed."""
        def work(s: Session) -> None:
            repo.update_order(session=s, order_link_id=link, status="Rejected", error="not found on the exchange")
            if conf_id:
                repo.set_confirmation_status(session=s, id=conf_id, status=CS.FAILED,
                                             expected=(CS.APPROVED, CS.EXECUTING),
                                             result_text="order never reached the exchange; nothing traded")
        await self._run(work)

    async def open_filled(self, *, link: str, order_id: str, status: str, symbol: str, side: str, qty: Decimal,
                          price: Decimal, time: datetime, fee: Decimal, sl: Decimal | None, tp: Decimal | None,
                          trailing_distance: Decimal | None, trailing_active_price: Decimal | None,
                          signal_id: int | None, confirmation_id: str | None, atr: Decimal) -> int:
        """Journal a filled entry: the trade opens and its order points at it, in one transaction. The trade's
        origin is its card's (a manual card's entry is a manual trade); without a card, a signal's."""
        def work(s: Session) -> int:
            card = repo.get_confirmation(session=s, id=confirmation_id) if confirmation_id else None
            trade = trades.open_trade(session=s, symbol=symbol, side=side, qty=qty, entry_price=price,
                                      entry_time=time, entry_fee=fee, entry_order_link_id=link, sl=sl, tp=tp,
                                      trailing_distance=trailing_distance,
                                      trailing_active_price=trailing_active_price, signal_id=signal_id,
                                      confirmation_id=confirmation_id, atr=atr,
                                      origin=card.origin if card is not None else "signal")
            repo.update_order(session=s, order_link_id=link, order_id=order_id, status=status, avg_price=price,
                              cum_exec_qty=qty, fee=fee, trade_id=trade.id)
            assert trade.id is not None
            return trade.id
        return await self._run(work)

    async def adopt(self, *, symbol: str, side: str, qty: Decimal, price: Decimal, time: datetime, sl: Decimal,
                    tp: Decimal, atr: Decimal | None, adopted_at: datetime) -> int:
        """Journal a position found on the exchange as the bot's own trade (its records count from ``adopted_at``)."""
        def work(s: Session) -> int:
            trade = trades.open_trade(session=s, symbol=symbol, side=side, qty=qty, entry_price=price,
                                      entry_time=time, sl=sl, tp=tp, adopted=True, atr=atr, adopted_at=adopted_at)
            assert trade.id is not None
            return trade.id
        return await self._run(work)

    async def get(self, trade_id: int) -> TradeRecord | None:
        return await self._call(trades.get_trade, id=trade_id)

    async def open_for(self, symbol: str) -> TradeRecord | None:
        return await self._call(trades.get_open_trade, symbol=symbol)

    async def open(self) -> list[TradeRecord]:
        return await self._call(trades.open_trades)

    async def closed(self, *, since: datetime | None = None, symbol: str | None = None,
                     limit: int | None = None) -> list[TradeRecord]:
        return await self._call(trades.closed_trades, since=since, symbol=symbol, limit=limit)

    async def entry_view(self, symbol: str, since: datetime) -> EntryView:
        def work(s: Session) -> EntryView:
            return EntryView(trades.get_open_trade(session=s, symbol=symbol) is not None,
                             len(trades.open_trades(session=s)), trades.closed_trades(session=s, since=since))
        return await self._run(work)

    async def update(self, trade_id: int, *, qty: Decimal | None = None, best_price: Decimal | None = None,
                     trailing_distance: Decimal | None = None, trailing_active_price: Decimal | None = None,
                     tp: Decimal | None = None) -> None:
        await self._call(trades.update_trade, trade_id=trade_id, qty=qty, best_price=best_price,
                         trailing_distance=trailing_distance, trailing_active_price=trailing_active_price, tp=tp)

    async def stop_moved(self, trade_id: int, *, sl: Decimal, reason: StopMoveReason, now: datetime,
                         by: str | None = None) -> None:
        """``by``: who moved it by hand (/sl); the bot's own moves have none."""
        await self._call(trades.update_trade_stop, trade_id=trade_id, sl=sl, reason=reason, now=now,
                         breakeven=reason == StopMoveReason.BREAKEVEN, by=by)

    async def close(self, trade_id: int, *, exit_price: Decimal, exit_time: datetime, pnl: Decimal, reason: str,
                    exit_order_id: str, exit_qty: Decimal, exit_fee: Decimal, funding_fee: Decimal | None,
                    entry_fee: Decimal | None = None) -> bool:
        """Journal the close once (idempotent); True if this call closed it."""
        closed = await self._call(trades.close_trade, trade_id=trade_id, exit_price=exit_price, exit_time=exit_time,
                                  pnl=pnl, reason=reason, exit_order_id=exit_order_id, exit_qty=exit_qty,
                                  exit_fee=exit_fee, funding_fee=funding_fee, entry_fee=entry_fee)
        return closed is not None

    async def funding(self, rows: Sequence[tuple[str, str, Decimal, datetime]]) -> None:
        """Record funding executions (exec id, symbol, fee, time); each once."""
        if not rows:
            return  # nothing to write: no trip to the journal's worker
        def work(s: Session) -> None:
            for exec_id, symbol, fee, time in rows:
                trades.record_funding(session=s, exec_id=exec_id, symbol=symbol, fee=fee, time=time)
        await self._run(work)

    async def chart(self, symbol: str, since: datetime) -> tuple[list[TradeRecord], list[Confirmation]]:
        """The trades drawn on a chart from ``since`` (closed, plus the open one) and the waiting cards."""
        def work(s: Session) -> tuple[list[TradeRecord], list[Confirmation]]:
            shown = trades.closed_trades(session=s, symbol=symbol, since=since)
            live = trades.get_open_trade(session=s, symbol=symbol)
            shown += [live] if live is not None and live.entry_time >= since else []
            return shown, repo.pending_confirmations(session=s, symbol=symbol)
        return await self._run(work)

    async def pnl(self, since: datetime | None, until: datetime) -> stats.PnLSummary:
        return await self._call(stats.pnl_summary, since=since, until=until)


@dataclass(frozen=True)
class Message:
    """One outbox row to queue."""

    chat_id: int
    kind: str
    text: str
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    confirmation_id: str | None = None


class Outbox(Part):
    """Telegram messages, durable until delivered.

    A message delivered while the journal could not be written keeps its "sent" mark here, in memory
    (``unrecorded``), until ``record_unrecorded`` writes it: the drain never delivers it a second time meanwhile."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(worker)
        self.unrecorded: dict[int, tuple[datetime, int | None, str | None, int | None]] = {}

    async def enqueue(self, messages: Sequence[Message], now: datetime) -> None:
        def work(s: Session) -> None:
            for m in messages:
                runtime.enqueue(session=s, chat_id=m.chat_id, kind=m.kind, text=m.text, parse_mode=m.parse_mode,
                                reply_markup=m.reply_markup, confirmation_id=m.confirmation_id, now=now)
        await self._run(work)

    async def due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        return await self._call(runtime.due_messages, now=now, limit=limit)

    async def cards(self, conf_id: str, kind: str) -> list[OutboxMessage]:
        return await self._call(runtime.card_messages, confirmation_id=conf_id, kind=kind)

    async def of_kind(self, kind: str) -> list[OutboxMessage]:
        """Every row of ``kind``: the copies of a card that is linked by its kind (a button token's card)."""
        return await self._call(runtime.messages_of_kind, kind=kind)

    async def sent(self, row_id: int, now: datetime, message_id: int | None, card_of: str | None = None,
                   chat_id: int | None = None) -> None:
        """Mark a row sent; a card's first delivery also records its message on the confirmation. When the journal
        cannot be written the mark is kept in ``unrecorded`` (and the error raised)."""
        def work(s: Session) -> None:
            runtime.mark_sent(session=s, id=row_id, now=now, sent_message_id=message_id)
            if card_of and message_id is not None and chat_id is not None:
                repo.set_confirmation_message(session=s, id=card_of, chat_id=chat_id, message_id=message_id)
        try:
            await self._run(work)
        except DOWN:
            self.unrecorded[row_id] = (now, message_id, card_of, chat_id)
            raise
        self.unrecorded.pop(row_id, None)

    async def record_unrecorded(self) -> None:
        """Write the "sent" marks kept while the journal could not be written (raises while it still cannot)."""
        for row_id, (now, message_id, card_of, chat_id) in list(self.unrecorded.items()):
            await self.sent(row_id, now, message_id, card_of, chat_id)

    async def failed(self, row_id: int, error: str, now: datetime, retry_at: datetime | None) -> None:
        await self._call(runtime.mark_failed, id=row_id, error=error, now=now, retry_at=retry_at)


class Journal:
    """The one door to the database: intent-level parts sharing one worker thread. ``close()`` at shutdown."""

    def __init__(self, db: Engine) -> None:
        self.db = db
        self.worker = Worker(db)
        self.signals = Signals(self.worker)
        self.cards = Cards(self.worker)
        self.trades = Trades(self.worker)
        self.outbox = Outbox(self.worker)
        self.state = State(self.worker)
        self.ops = Ops(self.worker)

    def close(self) -> None:
        """Finish the queued work and stop the worker thread (the engine is the caller's to dispose)."""
        self.worker.close()
