"""Position management each tick: exchange is the truth; stops only tighten; closes read with real price and fees."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from storage.journal import Journal
from storage.models import TradeRecord
from tradebot.bybit.account_models import ClosedPnl, Position
from tradebot.bybit.client import WEEK_MS, BybitClient
from tradebot.errors import BybitAPIError, ExchangeError
from tradebot.events import ErrorEvent, EventBus, PositionClosed, StopMoved, UnknownPosition
from tradebot.instruments import Instrument
from tradebot.money import ZERO
from tradebot.risk import RiskParams
from tradebot.side import Side
from tradebot.states import CloseReason, ExitReason
from tradebot.states import ConfirmationStatus as CS
from tradebot.stops import next_stop, update_best
from tradebot.timeutil import datetime_to_ms, ms_to_datetime, utcnow
from tradebot.trader import CLOSE_PREFIX, Trader

log = logging.getLogger("tradebot.positions")
CLOSE_WAIT_TICKS = 5  # ticks to wait for closed-pnl to show a close before alerting
LOOKAHEAD_MS = 86_400_000  # closes are searched up to a day past the last market time seen (candle in progress)


def stop_exit_reason(stop_history: list[dict[str, Any]] | None) -> ExitReason:
    """A stop-loss order's fill named by what the stop was at that moment: the last move's reason."""
    return ExitReason.of_stop((stop_history or [{}])[-1].get("reason"))


def close_reason(stop_order_types: set[str], exec_types: set[str], link_ids: set[str],
                 trade: TradeRecord) -> ExitReason:
    """Why a position closed, from the closing executions (never guessed from the price)."""
    if "BustTrade" in exec_types:
        return ExitReason.LIQUIDATION
    if "AdlTrade" in exec_types:
        return ExitReason.ADL
    if "TrailingStop" in stop_order_types:
        return ExitReason.TRAILING_STOP
    if "TakeProfit" in stop_order_types or "PartialTakeProfit" in stop_order_types:
        return ExitReason.TAKE_PROFIT
    if "StopLoss" in stop_order_types or "PartialStopLoss" in stop_order_types:
        return stop_exit_reason(trade.stop_history)
    if any(link.startswith(CLOSE_PREFIX) for link in link_ids):
        return ExitReason.MANUAL
    return ExitReason.MANUAL if link_ids or stop_order_types or exec_types else ExitReason.UNKNOWN


class PositionManager:
    """Syncs one symbol's position with the journal and keeps it protected."""

    def __init__(self, client: BybitClient, journal: Journal, bus: EventBus, trader: Trader,
                 risk: Callable[[], RiskParams], unknown_policy: str, unknown_wait: timedelta) -> None:
        self.client, self.journal, self.bus, self.trader = client, journal, bus, trader
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
        trade = await self.journal.trades.open_for(symbol)
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
            await self.journal.trades.update(trade.id, qty=pos.size)
        if pos.stop_loss is None and pos.trailing_stop is None:
            if not await self.trader.ensure_protected(trade.symbol, trade.id, inst=inst, risk=risk, position=pos):
                return
        best = trade.best_price
        for p in (high if Side(trade.side) is Side.BUY else low, last):
            if p is not None and p > 0:  # defence in depth: a non-positive price is never a "best" price
                best = update_best(Side(trade.side), best, p)
        if best != trade.best_price:
            await self.journal.trades.update(trade.id, best_price=best)
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
        await self.journal.trades.stop_moved(trade.id, sl=upd.new_sl, reason=upd.reason, now=now)
        await self.bus.emit(StopMoved(trade.symbol, Side(trade.side), current, upd.new_sl, upd.reason, last))

    async def record_close_if_flat(self, symbol: str) -> None:
        """After a manual close: journal it now if the exchange shows the position gone (no price involved)."""
        trade = await self.journal.trades.open_for(symbol)
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
        done = await self.journal.trades.close(trade.id, exit_price=exit_price,
                                               exit_time=ms_to_datetime(rows[-1].created_ms), pnl=pnl, reason=reason,
                                               exit_order_id=rows[-1].order_id, exit_qty=exit_qty,
                                               exit_fee=close_fee, funding_fee=funding)
        if done:
            await self.bus.emit(PositionClosed(trade.symbol, Side(trade.side), exit_qty, trade.entry_price, exit_price,
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

    async def _reason(self, rows: list[ClosedPnl], trade: TradeRecord) -> ExitReason:
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
        await self.journal.trades.funding([(e.exec_id, e.symbol, e.exec_fee, ms_to_datetime(e.exec_time_ms))
                                           for e in rows])
        return sum((e.exec_fee for e in rows), ZERO)

    async def _unknown(self, pos: Position, inst: Instrument, atr: Decimal, now: datetime) -> None:
        """A position the journal does not know: protect it at once, ask, then apply the answer or the default."""
        seen = await self.journal.state.unknown(pos.symbol)
        if seen is not None and seen.decision == "ignore" and seen.size == pos.size:
            return
        first_seen, decision = (seen.first_seen, seen.decision) if seen is not None else (None, None)
        if seen is None or seen.size != pos.size:
            first_seen, decision = now, None
            decide_by = now + self.unknown_wait
            await self.journal.state.see_unknown(pos.symbol, pos.size, now)
            await self.bus.emit(UnknownPosition(pos.symbol, Side(pos.side), pos.size, pos.avg_price,
                                                self.unknown_policy, decide_by))
        if pos.stop_loss is None and pos.trailing_stop is None:
            sl = self.trader.fallback_stop(pos, atr, inst, self.risk())
            try:
                await self.client.set_trading_stop(symbol=pos.symbol, stop_loss=sl)
                await self.bus.emit(StopMoved(pos.symbol, Side(pos.side), None, sl, "protect", pos.mark_price))
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
        if not await self.journal.state.decide_unknown(symbol, position.size, decision):
            return f"{symbol}: already managed"
        if decision == "ignore":
            return f"{symbol}: left alone (not managed by the bot)"
        if decision == "close":
            return await self.trader.close(symbol, reason=CloseReason.UNKNOWN_POSITION)
        risk = self.risk()
        sl = position.stop_loss or self.trader.fallback_stop(position, atr, inst, risk)
        tp = position.take_profit or self.trader.fallback_take_profit(position, atr, inst, risk)
        await self.journal.trades.adopt(symbol=symbol, side=position.side, qty=position.size,
                                                   price=position.avg_price,
                                                   time=ms_to_datetime(position.open_time_ms or position.updated_ms),
                                                   sl=sl, tp=tp, atr=atr if atr > 0 else None)
        if position.stop_loss is None or position.take_profit is None:
            try:
                await self.client.set_trading_stop(symbol=symbol, stop_loss=None if position.stop_loss else sl,
                                                   take_profit=None if position.take_profit else tp)
            except BybitAPIError as exc:
                await self.bus.emit(ErrorEvent(f"{symbol}: adopted, but TP/SL could not be set ({exc})", symbol))
        return f"{symbol}: adopted {position.side} {position.size} @ {position.avg_price}; SL {sl}, TP {tp}"

    async def reconcile(self, instruments: dict[str, Instrument], atrs: dict[str, Decimal], now: datetime
                        ) -> list[tuple[str, int]]:
        """Journal vs exchange: entries with unknown outcome and confirmations cut off by a crash are settled here;
        the open trades whose position is gone (closed while nobody looked) are returned as (symbol, trade id) for
        the engine to journal under each symbol's lock (``TradingEngine.journal_close``)."""
        risk = self.risk()
        self.last_now = now
        pending = [(o.order_link_id, o.symbol, o.side, o.confirmation_id)
                   for o in await self.journal.trades.unresolved_entries()]
        for link, symbol, side, conf_id in pending:
            inst = instruments.get(symbol)
            order = await self.client.get_order(symbol, order_link_id=link)
            if order is None:
                await self.journal.trades.entry_missing(link, conf_id)
                continue
            has_trade = await self.journal.trades.open_for(symbol) is not None
            if inst is not None and not has_trade and order.cum_exec_qty > 0:
                conf = None
                if conf_id:
                    conf = await self.journal.cards.get(conf_id)
                    sl, tp = (conf.sl, conf.tp) if conf else (None, None)
                else:
                    sl, tp = order.stop_loss, order.take_profit
                res = await self.trader.record_entry(order, symbol=symbol, side=Side(side), sl=sl, tp=tp,
                                                     atr=atrs.get(symbol, ZERO), inst=inst, risk=risk,
                                                     confirmation_id=conf_id)
                if conf_id:
                    await self.journal.cards.settle(conf_id, CS.EXECUTED if res.ok else CS.FAILED, order_link_id=link,
                                                    text=res.text)
            elif order.is_final:
                await self.journal.trades.order_update(link, order_id=order.order_id, status=order.status)
        trades = await self.journal.trades.open()
        live = {p.symbol: p for p in await self.client.positions()}
        return [(t.symbol, t.id) for t in trades if t.symbol not in live and t.id is not None]
