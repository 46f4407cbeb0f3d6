"""Position management each tick: exchange is the truth; stops only tighten; closes read with real price and fees."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from storage import repo
from storage.db import session_scope
from storage.models import TradeRecord
from storage.state import set_unknown_position, unknown_position
from storage.trades import (
    close_trade,
    get_open_trade,
    open_trade,
    open_trades,
    record_funding,
    update_trade,
    update_trade_stop,
)
from tradebot.bybit.client import WEEK_MS, BybitClient
from tradebot.bybit.models import ClosedPnl, Position
from tradebot.errors import BybitAPIError, ExchangeError
from tradebot.events import ErrorEvent, EventBus, PositionClosed, StopMoved, UnknownPosition
from tradebot.instruments import Instrument
from tradebot.money import ZERO
from tradebot.risk import RiskParams
from tradebot.side import Side
from tradebot.states import CloseReason
from tradebot.stops import next_stop, update_best
from tradebot.timeutil import datetime_to_ms, ms_to_datetime, utcnow
from tradebot.trader import CLOSE_PREFIX, Trader

log = logging.getLogger("tradebot.positions")
CLOSE_WAIT_TICKS = 5  # ticks to wait for closed-pnl to show a close before alerting
LOOKAHEAD_MS = 86_400_000  # closes are searched up to a day past the last market time seen (candle in progress)


def _detached(trade: TradeRecord | None, s) -> TradeRecord | None:  # noqa: ANN001
    if trade is not None:
        s.expunge(trade)
    return trade


def stop_exit_reason(stop_history: list[dict[str, Any]] | None) -> str:
    """A stop-loss order's fill named by what the stop was at that moment: the last move's reason."""
    last = (stop_history or [{}])[-1].get("reason")
    return {"trailing": "trailing_stop", "breakeven": "breakeven_stop"}.get(last or "", "stop_loss")


def close_reason(stop_order_types: set[str], exec_types: set[str], link_ids: set[str], trade: TradeRecord) -> str:
    """Why a position closed, from the closing executions (never guessed from the price)."""
    if "BustTrade" in exec_types:
        return "liquidation"
    if "AdlTrade" in exec_types:
        return "adl"
    if "TrailingStop" in stop_order_types:
        return "trailing_stop"
    if "TakeProfit" in stop_order_types or "PartialTakeProfit" in stop_order_types:
        return "take_profit"
    if "StopLoss" in stop_order_types or "PartialStopLoss" in stop_order_types:
        return stop_exit_reason(trade.stop_history)
    if any(link.startswith(CLOSE_PREFIX) for link in link_ids):
        return "manual"
    return "manual" if link_ids or stop_order_types or exec_types else "unknown"


class PositionManager:
    """Syncs one symbol's position with the journal and keeps it protected."""

    def __init__(self, client: BybitClient, db: Engine, bus: EventBus, trader: Trader,
                 risk: Callable[[], RiskParams], unknown_policy: str, unknown_wait: timedelta) -> None:
        self.client, self.db, self.bus, self.trader = client, db, bus, trader
        self.risk = risk
        self.unknown_policy, self.unknown_wait = unknown_policy, unknown_wait
        self._close_waits: dict[int, int] = {}
        self.last_now: datetime | None = None  # the market clock as of the last sync/reconcile

    def _end_ms(self, start_ms: int) -> int:
        """The end of a closed-pnl/execution search: a day past the market clock (never before ``start_ms``)."""
        now = self.last_now or utcnow()
        return max(datetime_to_ms(now), start_ms) + LOOKAHEAD_MS

    async def sync(self, symbol: str, *, inst: Instrument, last_price: Decimal, bar_high: Decimal | None,
                   bar_low: Decimal | None, atr: Decimal, now: datetime, position: Position | None = None,
                   fetched: bool = False, bar_start: datetime | None = None) -> None:
        """One tick of position management for ``symbol``.

        ``bar_high``/``bar_low`` (the last closed bar) only count toward the best price when that bar started at
        or after the entry (``bar_start``): a wick from before the entry must not move the stop.
        """
        self.last_now = now
        if not fetched:
            found = await self.client.positions(symbol)
            position = found[0] if found else None
        with session_scope(self.db) as s:
            trade = _detached(get_open_trade(session=s, symbol=symbol), s)
        if trade is not None and position is not None and position.side != trade.side:
            await self.record_close(trade)  # flipped by hand: the old trade is over
            trade = None
        if trade is not None and position is not None:
            if bar_start is not None and bar_start < trade.entry_time:
                bar_high = bar_low = None
            await self._manage(trade, position, inst, last_price, bar_high, bar_low, now)
        elif trade is not None:
            await self.record_close(trade)
        elif position is not None:
            await self._unknown(position, inst, atr, now)

    async def _manage(self, trade: TradeRecord, pos: Position, inst: Instrument, last: Decimal,
                      high: Decimal | None, low: Decimal | None, now: datetime) -> None:
        risk = self.risk()
        assert trade.id is not None
        if pos.size != trade.qty:
            with session_scope(self.db) as s:
                update_trade(session=s, trade_id=trade.id, qty=pos.size)
        if pos.stop_loss is None and pos.trailing_stop is None:
            if not await self.trader.ensure_protected(trade.symbol, trade.id, inst=inst, risk=risk, position=pos):
                return
        best = trade.best_price
        for p in (high if Side(trade.side) is Side.BUY else low, last):
            if p is not None and p > 0:  # defence in depth: a non-positive price is never a "best" price
                best = update_best(Side(trade.side), best, p)
        if best != trade.best_price:
            with session_scope(self.db) as s:
                update_trade(session=s, trade_id=trade.id, best_price=best)
        current = pos.stop_loss or trade.sl
        upd = next_stop(side=Side(trade.side), entry=trade.entry_price, current_sl=current, best_price=best,
                        last_price=last, atr=trade.atr or ZERO, inst=inst, params=risk,
                        breakeven_done=trade.breakeven_done) if (trade.atr or ZERO) > 0 else None
        if upd is None:
            return
        try:
            await self.client.set_trading_stop(symbol=trade.symbol, stop_loss=upd.new_sl)
        except BybitAPIError as exc:
            await self.bus.emit(ErrorEvent(f"{trade.symbol}: could not move the stop to {upd.new_sl} ({exc}); "
                                           "the previous stop stays", trade.symbol))
            return
        with session_scope(self.db) as s:
            update_trade_stop(session=s, trade_id=trade.id, sl=upd.new_sl, reason=upd.reason, now=now,
                              breakeven=upd.reason == "breakeven")
        await self.bus.emit(StopMoved(trade.symbol, trade.side, current, upd.new_sl, upd.reason, last))

    async def record_close_if_flat(self, symbol: str) -> None:
        """After a manual close: journal it now if the exchange shows the position gone (no price involved)."""
        with session_scope(self.db) as s:
            trade = _detached(get_open_trade(session=s, symbol=symbol), s)
        if trade is not None and not await self.client.positions(symbol):
            await self.record_close(trade)

    async def record_close(self, trade: TradeRecord) -> bool:
        """Journal a close from the exchange's closed-pnl and executions. False while it is not visible yet."""
        assert trade.id is not None
        rows = await self._closes(trade)
        closed = sum((r.closed_size or r.qty for r in rows), ZERO)
        if not rows or closed < trade.qty:
            waits = self._close_waits.get(trade.id, 0) + 1
            self._close_waits[trade.id] = waits
            if waits == CLOSE_WAIT_TICKS:
                await self.bus.emit(ErrorEvent(f"{trade.symbol}: the position is gone on the exchange but its "
                                               "closed-PnL record has not appeared yet; still checking", trade.symbol))
            if not rows or waits < CLOSE_WAIT_TICKS * 2:
                return False
        self._close_waits.pop(trade.id, None)
        rows.sort(key=lambda r: r.created_ms)
        reason = await self._reason(rows, trade)
        exit_qty = sum((r.closed_size or r.qty for r in rows), ZERO)
        exit_price = sum(((r.closed_size or r.qty) * r.avg_exit_price for r in rows), ZERO) / exit_qty
        pnl = sum((r.closed_pnl for r in rows), ZERO)
        close_fee = sum((r.close_fee for r in rows), ZERO)
        open_fee = sum((r.open_fee for r in rows), ZERO) or trade.entry_fee
        funding = await self._funding(trade, rows[-1].created_ms)
        with session_scope(self.db) as s:
            done = close_trade(session=s, trade_id=trade.id, exit_price=exit_price, exit_time=ms_to_datetime(rows[-1].created_ms),
                               pnl=pnl, reason=reason, exit_order_id=rows[-1].order_id, exit_qty=exit_qty,
                               exit_fee=close_fee, funding_fee=funding)
        if done is not None:
            await self.bus.emit(PositionClosed(trade.symbol, trade.side, exit_qty, trade.entry_price, exit_price,
                                               pnl, open_fee + close_fee, reason, trade.id, funding))
        return True

    async def _closes(self, trade: TradeRecord) -> list[ClosedPnl]:
        """The trade's closed-pnl rows: 7-day windows (Bybit's limit, position/close-pnl.mdx) walked forward from the
        entry until they cover the trade's qty or reach the market clock, so a trade held for weeks still closes."""
        entry_ms = int(trade.entry_time.timestamp() * 1000)
        end = self._end_ms(entry_ms)
        rows: list[ClosedPnl] = []
        lo = entry_ms - 1000
        while lo <= end:
            hi = min(lo + WEEK_MS, end)
            rows += [r for r in await self.client.closed_pnl(trade.symbol, start_ms=lo, end_ms=hi, max_items=1000)
                     if r.created_ms >= entry_ms and r.position_side == trade.side]
            if sum((r.closed_size or r.qty for r in rows), ZERO) >= trade.qty:
                break
            lo = hi + 1
        return rows

    async def _reason(self, rows: list[ClosedPnl], trade: TradeRecord) -> str:
        stop_types: set[str] = set()
        exec_types: set[str] = {r.exec_type for r in rows if r.exec_type}
        links: set[str] = set()
        for r in rows:
            for e in await self.client.executions(trade.symbol, order_id=r.order_id,
                                                  end_ms=r.created_ms + 60_000):
                if e.stop_order_type:
                    stop_types.add(e.stop_order_type)
                exec_types.add(e.exec_type)
                if e.order_link_id:
                    links.add(e.order_link_id)
        return close_reason(stop_types, exec_types, links, trade)

    async def _funding(self, trade: TradeRecord, until_ms: int) -> Decimal | None:
        """Funding settled while the trade was open (a component of closedPnl, recorded for display).

        None when it cannot be read: the close is journalled anyway (closedPnl already includes funding)."""
        entry_ms = int(trade.entry_time.timestamp() * 1000)
        try:
            rows = await self.client.executions(trade.symbol, exec_type="Funding", start_ms=entry_ms,
                                                end_ms=until_ms, max_items=5000)
        except ExchangeError as exc:
            log.warning("%s: funding for trade %s could not be read (%s); its PnL is unaffected", trade.symbol,
                        trade.id, exc)
            await self.bus.emit(ErrorEvent(f"{trade.symbol}: funding paid while holding could not be read "
                                           f"({exc}); net PnL is the exchange's and already includes it",
                                           trade.symbol))
            return None
        total = ZERO
        with session_scope(self.db) as s:
            for e in rows:
                record_funding(session=s, exec_id=e.exec_id, symbol=e.symbol, fee=e.exec_fee,
                               time=ms_to_datetime(e.exec_time_ms))
                total += e.exec_fee
        return total

    async def _unknown(self, pos: Position, inst: Instrument, atr: Decimal, now: datetime) -> None:
        """A position the journal does not know: protect it at once, ask, then apply the answer or the default."""
        with session_scope(self.db) as s:
            seen = unknown_position(session=s, symbol=pos.symbol)
        if seen is not None and seen.decision == "ignore" and seen.size == pos.size:
            return
        first_seen, decision = (None, None) if seen is None else (seen.first_seen, seen.decision)
        if seen is None or seen.size != pos.size:
            first_seen, decision = now, None
            decide_by = now + self.unknown_wait
            with session_scope(self.db) as s:
                set_unknown_position(session=s, symbol=pos.symbol, size=pos.size, first_seen=now, now=now)
            await self.bus.emit(UnknownPosition(pos.symbol, pos.side, pos.size, pos.avg_price,
                                                self.unknown_policy, decide_by))
        if pos.stop_loss is None and pos.trailing_stop is None:
            sl = self.trader.fallback_stop(pos, atr, inst, self.risk())
            try:
                await self.client.set_trading_stop(symbol=pos.symbol, stop_loss=sl)
                await self.bus.emit(StopMoved(pos.symbol, pos.side, None, sl, "protect", pos.mark_price))
                pos = Position(**{**{f: getattr(pos, f) for f in pos.__dataclass_fields__}, "stop_loss": sl})
            except BybitAPIError as exc:
                await self.bus.emit(ErrorEvent(f"{pos.symbol}: unknown position has no stop and one could not be "
                                               f"set ({exc})", pos.symbol, critical=True))
        if decision is None and first_seen is not None and now >= first_seen + self.unknown_wait:
            decision = self.unknown_policy
        if decision is not None:
            await self.decide_unknown(pos.symbol, decision, position=pos, inst=inst, atr=atr)

    async def decide_unknown(self, symbol: str, decision: str, *, position: Position | None = None,
                             inst: Instrument, atr: Decimal) -> str:
        """Apply Adopt / Close / Ignore to an unknown position (from a button or the default)."""
        if position is None:
            found = await self.client.positions(symbol)
            if not found:
                return f"{symbol}: no open position any more"
            position = found[0]
        with session_scope(self.db) as s:
            if get_open_trade(session=s, symbol=symbol) is not None:
                return f"{symbol}: already managed"
            set_unknown_position(session=s, symbol=symbol, size=position.size, decision=decision)
        if decision == "ignore":
            return f"{symbol}: left alone (not managed by the bot)"
        if decision == "close":
            return await self.trader.close(symbol, reason=CloseReason.UNKNOWN_POSITION)
        risk = self.risk()
        sl = position.stop_loss or self.trader.fallback_stop(position, atr, inst, risk)
        tp = position.take_profit or self.trader.fallback_take_profit(position, atr, inst, risk)
        with session_scope(self.db) as s:
            trade = open_trade(session=s, symbol=symbol, side=position.side, qty=position.size,
                               entry_price=position.avg_price,
                               entry_time=ms_to_datetime(position.open_time_ms or position.updated_ms),
                               sl=sl, tp=tp, adopted=True, atr=atr if atr > 0 else None)
            trade_id = trade.id
        assert trade_id is not None
        if position.stop_loss is None or position.take_profit is None:
            try:
                await self.client.set_trading_stop(symbol=symbol, stop_loss=None if position.stop_loss else sl,
                                                   take_profit=None if position.take_profit else tp)
            except BybitAPIError as exc:
                await self.bus.emit(ErrorEvent(f"{symbol}: adopted, but TP/SL could not be set ({exc})", symbol))
        return f"{symbol}: adopted {position.side} {position.size} @ {position.avg_price}; SL {sl}, TP {tp}"

    async def reconcile(self, instruments: dict[str, Instrument], atrs: dict[str, Decimal], now: datetime) -> None:
        """Journal vs exchange: entries with unknown outcome, confirmations cut off by a crash, closes while down."""
        risk = self.risk()
        self.last_now = now
        with session_scope(self.db) as s:
            pending = [(o.order_link_id, o.symbol, o.side, o.confirmation_id)
                       for o in repo.open_orders(session=s, purpose="entry") if o.trade_id is None]
        for link, symbol, side, conf_id in pending:
            inst = instruments.get(symbol)
            order = await self.client.get_order(symbol, order_link_id=link)
            if order is None:
                with session_scope(self.db) as s:
                    repo.update_order(session=s, order_link_id=link, status="Rejected",
                                      error="not found on the exchange")
                    if conf_id:
                        repo.set_confirmation_status(session=s, id=conf_id, status="failed",
                                                     expected=("approved", "executing"),
                                                     result_text="order never reached the exchange; nothing traded")
                continue
            with session_scope(self.db) as s:
                has_trade = get_open_trade(session=s, symbol=symbol) is not None
            if inst is not None and not has_trade and order.cum_exec_qty > 0:
                conf = None
                if conf_id:
                    with session_scope(self.db) as s:
                        conf = repo.get_confirmation(session=s, id=conf_id)
                        sl, tp = (conf.sl, conf.tp) if conf else (None, None)
                else:
                    sl, tp = order.stop_loss, order.take_profit
                res = await self.trader.record_entry(order, symbol=symbol, side=Side(side), sl=sl, tp=tp,
                                                     atr=atrs.get(symbol, ZERO), inst=inst, risk=risk,
                                                     confirmation_id=conf_id)
                if conf_id:
                    with session_scope(self.db) as s:
                        repo.set_confirmation_status(session=s, id=conf_id, status="executed" if res.ok else "failed",
                                                     order_link_id=link, result_text=res.text)
            elif order.is_final:
                with session_scope(self.db) as s:
                    repo.update_order(session=s, order_link_id=link, order_id=order.order_id, status=order.status)
        with session_scope(self.db) as s:
            trades = [_detached(t, s) for t in open_trades(session=s)]
        live = {p.symbol: p for p in await self.client.positions()}
        for trade in trades:
            assert trade is not None
            if trade.symbol not in live:
                await self.record_close(trade)
