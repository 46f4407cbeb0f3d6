"""Position management each tick: exchange is the truth; stops only tighten; closes read with real price and fees."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from storage.journal import Journal
from storage.models import TradeRecord
from tradebot.bybit.account_models import Position
from tradebot.bybit.client import BybitClient
from tradebot.bybit.orders import TradingStop
from tradebot.care.closes import CloseFinder, TradeClose, since_ms
from tradebot.care.stops import next_stop, update_best
from tradebot.care.trader import Trader, protected
from tradebot.errors import BybitAPIError, ExchangeError
from tradebot.events import ErrorEvent, EventBus, PositionClosed, StopMoved, UnknownDefaulted, UnknownPosition
from tradebot.intents import UnknownDecision
from tradebot.money import ZERO
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument, take_profit_price
from tradebot.sizing.risk import RiskParams
from tradebot.states import CloseReason
from tradebot.states import ConfirmationStatus as CS
from tradebot.timeutil import datetime_to_ms, ms_to_datetime, utcnow

log = logging.getLogger("tradebot.care.positions")
CLOSE_WAIT_TICKS = 5  # tries to find a close's closed-pnl before alerting
CLOSE_GIVE_UP_S = 900.0  # a close whose rows never cover what the trade opened is journaled as found after this
LOOKAHEAD_MS = 86_400_000  # closes are searched up to a day past the last market time seen (candle in progress)


class PositionManager:
    """Syncs one symbol's position with the journal and keeps it protected."""

    def __init__(self, client: BybitClient, journal: Journal, bus: EventBus, trader: Trader,
                 risk: Callable[[], RiskParams], unknown_policy: UnknownDecision | str, unknown_wait: timedelta,
                 fee_rate: Callable[[str], Decimal] | None = None) -> None:
        self.client, self.journal, self.bus, self.trader = client, journal, bus, trader
        self.risk = risk
        self.fee_rate = fee_rate  # the taker rate entries are sized with (the exchange's): break-even covers it
        self.unknown_policy, self.unknown_wait = UnknownDecision(unknown_policy), unknown_wait
        self.closes = CloseFinder(client)
        self._close_waits: dict[int, tuple[int, float]] = {}  # trade id → (tries, monotonic time of the first)
        self.clock: Callable[[], float] = time.monotonic  # how long a close has been waited for
        self.last_now: datetime | None = None  # the market clock as of the last sync/reconcile
        self.entry_wait_s = 0.0  # [execution] reprice_window_s: a maker entry resting longer was left by a crash
        self.stops_seen: dict[str, tuple[float, Decimal | None]] = {}  # symbol → (when, the exchange's stop-loss)

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
        self.stops_seen[symbol] = (self.clock(), position.stop_loss if position is not None else None)
        trade = await self.journal.trades.open_for(symbol)
        if trade is not None and position is not None and await self._over(trade, position):
            # flipped by hand (once or twice: a flip back opens a new position of the trade's side): the old trade
            # is over once its close is on the record; the new position is protected meanwhile, and a decision on
            # it waits for that (decide_unknown)
            await self.record_close(trade)
            trade = None
        if trade is not None and position is not None:
            if bar_start is not None and bar_start < trade.entry_time:
                bar_high = bar_low = None
            await self._manage(trade, position, inst, last_price, bar_high, bar_low, now)
        elif trade is not None:
            await self.record_close(trade)
        elif position is not None:
            await self._unknown(position, inst, atr, now)

    async def _over(self, trade: TradeRecord, pos: Position) -> bool:
        """The open position is not the trade's: the other side, or (a size the trade does not have) the trade's
        executions show its position ended, flipped twice or closed and opened again by hand."""
        if pos.side != trade.side:
            return True
        if pos.size == trade.qty:
            return False
        start = since_ms(trade.entry_time, trade.adopted_at)
        return (await self.closes.find(trade, start, self._end_ms(start))).ended_ms is not None

    async def _manage(self, trade: TradeRecord, pos: Position, inst: Instrument, last: Decimal,
                      high: Decimal | None, low: Decimal | None, now: datetime) -> None:
        risk = self.risk()
        assert trade.id is not None
        if pos.size != trade.qty:  # reduced or added to on the exchange: the close will count every part
            await self.journal.trades.update(trade.id, qty=pos.size)
        if not protected(pos, trade):  # a trailing stop still waiting for its activation price is no stop
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
                        breakeven_done=trade.breakeven_done,
                        fee_rate=self.fee_rate(trade.symbol) if self.fee_rate else None
                        ) if (trade.atr or ZERO) > 0 else None
        if upd is None:
            return
        try:
            await self.client.trading_stop(TradingStop(symbol=trade.symbol, stop_loss=upd.new_sl))
        except BybitAPIError as exc:
            await self.bus.emit(ErrorEvent(f"{trade.symbol}: could not move the stop to {upd.new_sl} ({exc}); "
                                           "the previous stop stays", trade.symbol))
            return
        self.stops_seen[trade.symbol] = (self.clock(), upd.new_sl)
        await self.journal.trades.stop_moved(trade.id, sl=upd.new_sl, reason=upd.reason, now=now)
        await self.bus.emit(StopMoved(trade.symbol, Side(trade.side), current, upd.new_sl, upd.reason, last))

    async def record_close_if_flat(self, symbol: str) -> None:
        """After a manual close: journal it now if the exchange shows the position gone (no price involved)."""
        trade = await self.journal.trades.open_for(symbol)
        if trade is not None and not await self.client.positions(symbol):
            await self.record_close(trade)

    async def record_close(self, trade: TradeRecord) -> bool:
        """Journal a close from the exchange's closed-pnl and executions. False while it is not visible yet.

        The trade is journaled whole: every closed-pnl row since it started (hand reductions, partial liquidation,
        ADL) once they cover all it opened (entry and adds); a row can lag the position, so until then it waits
        (alerting after CLOSE_WAIT_TICKS tries; after CLOSE_GIVE_UP_S it journals what the exchange shows, loudly).
        """
        assert trade.id is not None
        start = since_ms(trade.entry_time, trade.adopted_at)
        found = await self.closes.find(trade, start, self._end_ms(start))
        if not found.covered and await self._still_waiting(trade, found):
            return False
        self._close_waits.pop(trade.id, None)
        reason = await self.closes.reason(found, trade)
        funding = await self._funding(trade, found.last.created_ms, found)
        open_fee = found.open_fee or trade.entry_fee
        done = await self.journal.trades.close(
            trade.id, exit_price=found.exit_price, exit_time=ms_to_datetime(found.last.created_ms), pnl=found.pnl,
            reason=reason, exit_order_id=found.last.order_id, exit_qty=found.qty, exit_fee=found.close_fee,
            funding_fee=funding, entry_fee=open_fee)
        if done:
            await self.bus.emit(PositionClosed(trade.symbol, Side(trade.side), found.qty, trade.entry_price,
                                               found.exit_price, found.pnl, open_fee + found.close_fee, reason,
                                               trade.id, funding))
        return True

    async def _still_waiting(self, trade: TradeRecord, found: TradeClose) -> bool:
        """Count a try at a close not (fully) on the record; False once it is time to journal what is there."""
        assert trade.id is not None
        tries, since = self._close_waits.get(trade.id, (0, self.clock()))
        self._close_waits[trade.id] = (tries + 1, since)
        if tries + 1 == CLOSE_WAIT_TICKS:
            await self.bus.emit(ErrorEvent(f"{trade.symbol}: the position is gone on the exchange but its "
                                           "closed-PnL record has not appeared yet; still checking", trade.symbol))
        if not found.rows or self.clock() - since < CLOSE_GIVE_UP_S:
            return True
        await self.bus.emit(ErrorEvent(
            f"{trade.symbol}: the exchange's closed-PnL shows {found.qty} of the {found.opened} this trade opened "
            f"after {CLOSE_GIVE_UP_S / 60:g} minutes; journaled with what it shows. Compare with the exchange's "
            "closed P&L", trade.symbol, critical=True))
        return False

    async def _funding(self, trade: TradeRecord, until_ms: int, found: TradeClose) -> Decimal | None:
        """Funding settled while the trade was open (a component of closedPnl, recorded for display): from the
        executions the close was found with when they start at the entry, else asked.

        None when it cannot be read: the close is journalled anyway (closedPnl already includes funding)."""
        entry_ms = int(trade.entry_time.timestamp() * 1000)
        try:
            if trade.adopted_at is None and found.execs:
                rows = [e for e in found.execs if e.exec_type == "Funding" and entry_ms <= e.exec_time_ms <= until_ms]
            else:
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
        if seen is not None and seen.decision == UnknownDecision.IGNORE and seen.size == pos.size:
            return
        first_seen, decision = (seen.first_seen, seen.decision) if seen is not None else (None, None)
        if seen is None or seen.size != pos.size:
            first_seen, decision = now, None
            decide_by = now + self.unknown_wait
            await self.journal.state.see_unknown(pos.symbol, pos.size, now)
            await self.bus.emit(UnknownPosition(pos.symbol, pos.held, pos.size, pos.avg_price,
                                                self.unknown_policy, decide_by))
        if not protected(pos):  # a trailing stop the bot did not set may still wait for its activation price
            sl = self.trader.fallback_stop(pos, atr, inst, self.risk())
            try:
                await self.client.trading_stop(TradingStop(symbol=pos.symbol, stop_loss=sl))
                await self.bus.emit(StopMoved(pos.symbol, pos.held, None, sl, "protect", pos.mark_price))
                pos = Position(**{**{f: getattr(pos, f) for f in pos.__dataclass_fields__}, "stop_loss": sl})
            except BybitAPIError as exc:
                await self.bus.emit(ErrorEvent(f"{pos.symbol}: unknown position has no stop and one could not be "
                                               f"set ({exc})", pos.symbol, critical=True))
        defaulted = decision is None and first_seen is not None and now >= first_seen + self.unknown_wait
        if defaulted:
            decision = self.unknown_policy
        if decision is not None:
            chosen = UnknownDecision(decision)
            outcome = await self.decide_unknown(pos.symbol, chosen, position=pos, inst=inst, atr=atr)
            if defaulted:
                await self.bus.emit(UnknownDefaulted(pos.symbol, pos.size, chosen, outcome))

    async def decide_unknown(self, symbol: str, decision: UnknownDecision, *, position: Position | None = None,
                             inst: Instrument, atr: Decimal) -> str:
        """Apply Adopt / Close / Ignore to an unknown position (from a button or the default)."""
        if position is None:
            found = await self.client.positions(symbol)
            if not found:
                return f"{symbol}: no open position any more"
            position = found[0]
        old = await self.journal.trades.open_for(symbol)
        if old is not None and await self._over(old, position) and not await self.record_close(old):
            # flipped by hand before the old trade's close is on the record: one open trade per symbol, so Adopt
            # and Ignore wait for it (kept, applied by the next sync that journals it); Close acts on the new one now
            if decision == UnknownDecision.CLOSE:
                return await self.trader.close(symbol, reason=CloseReason.UNKNOWN_POSITION)
            await self.journal.state.keep_unknown_decision(symbol, position.size, decision)
            return (f"{symbol}: {decision} noted; applied as soon as the previous trade's close shows in the "
                    "exchange's closed P&L")
        if not await self.journal.state.decide_unknown(symbol, position.size, decision):
            return f"{symbol}: already managed"
        if decision == UnknownDecision.IGNORE:
            return f"{symbol}: left alone (not managed by the bot)"
        if decision == UnknownDecision.CLOSE:
            return await self.trader.close(symbol, reason=CloseReason.UNKNOWN_POSITION)
        risk = self.risk()
        sl = position.stop_loss or self.trader.fallback_stop(position, atr, inst, risk)
        tp = position.take_profit or self.trader.fallback_take_profit(position, atr, inst, risk)
        await self.journal.trades.adopt(symbol=symbol, side=position.held, qty=position.size,
                                        price=position.avg_price,
                                        time=ms_to_datetime(position.open_time_ms or position.updated_ms),
                                        sl=sl, tp=tp, atr=atr if atr > 0 else None,
                                        adopted_at=ms_to_datetime(position.updated_ms + 1) if position.updated_ms
                                        else self.last_now or utcnow())
        if position.stop_loss is None or position.take_profit is None:
            try:
                await self.client.trading_stop(TradingStop(symbol=symbol, stop_loss=None if position.stop_loss else sl,
                                                           take_profit=None if position.take_profit else tp))
            except BybitAPIError as exc:
                await self.bus.emit(ErrorEvent(f"{symbol}: adopted, but TP/SL could not be set ({exc})", symbol))
        return f"{symbol}: adopted {position.held.word.upper()} {position.size} @ {position.avg_price}; SL {sl}, TP {tp}"

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
            maker = order.time_in_force == "PostOnly"
            left_by_crash = datetime_to_ms(now) - order.created_ms > 1000 * (2 * self.entry_wait_s + 60)
            if maker and not order.is_final and left_by_crash:  # a crash cut its wait: cancel, what filled stays
                await self.client.cancel_order(symbol, order_link_id=link)
                order = await self.client.get_order(symbol, order_link_id=link) or order
            has_trade = await self.journal.trades.open_for(symbol) is not None
            if inst is not None and not has_trade and order.cum_exec_qty > 0 and (order.is_final or not maker):
                conf = None
                if conf_id:
                    conf = await self.journal.cards.get(conf_id)  # the order's own levels: re-sized at the tap
                    sl, tp = (order.stop_loss or conf.sl, order.take_profit or conf.tp) if conf else (None, None)
                else:
                    sl, tp = order.stop_loss, order.take_profit
                res = await self.trader.record_entry(order, symbol=symbol, side=Side(side), sl=sl, tp=tp,
                                                     atr=atrs.get(symbol, ZERO), inst=inst, risk=risk,
                                                     confirmation_id=conf_id)
                atr = atrs.get(symbol, ZERO)
                if maker and not tp and res.price and atr > 0:  # an auto entry's TP is not on its order: rebuild it
                    tp = take_profit_price(res.price + Side(side).sign * risk.tp_atr * atr, inst, Side(side))
                if maker and tp:  # its maker take-profit was never added
                    res = await self.trader.add_limit_tp(res, symbol, tp)
                if conf_id:
                    await self.journal.cards.settle(conf_id, CS.EXECUTED if res.ok else CS.FAILED, order_link_id=link,
                                                    text=res.text)
            elif order.is_final:
                await self.journal.trades.order_update(link, order_id=order.order_id, status=order.status)
        trades = await self.journal.trades.open()
        live = {p.symbol: p for p in await self.client.positions()}
        return [(t.symbol, t.id) for t in trades if t.symbol not in live and t.id is not None]
