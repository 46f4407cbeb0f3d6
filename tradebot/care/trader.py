"""Order execution: one protected entry per intent (market, or maker first), fill confirmed from the exchange,
reduce-only closes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from storage.journal import Journal
from storage.models import TradeRecord
from tradebot.bybit.account_models import SETTLE_COIN, Execution, Order, Position
from tradebot.bybit.client import BybitClient, order_link_id
from tradebot.bybit.orders import NewOrder, TradingStop, TriggerBy
from tradebot.care.maker_entry import Sleep, add_limit_take_profit, rest_limit
from tradebot.care.stops import exchange_trailing, trailing_active
from tradebot.errors import BybitAPIError, ExchangeError, OrderRejected, TransportError
from tradebot.events import EntryFailed, EntryFilled, ErrorEvent, EventBus
from tradebot.money import ZERO
from tradebot.side import Side
from tradebot.sizing.execution import ExecutionSettings
from tradebot.sizing.instruments import Instrument, stop_price, take_profit_price
from tradebot.sizing.risk import RiskParams
from tradebot.states import CloseReason
from tradebot.text import num
from tradebot.timeutil import ms_to_datetime

log = logging.getLogger("tradebot.care.trader")
CLOSE_PREFIX = "cl-"


def entry_link_id(root: str) -> str:
    """orderLinkId of the entry for one intent (a confirmation id, or symbol+bar in auto mode)."""
    return order_link_id("en", root)


def close_link_id(symbol: str, reason: CloseReason, now_ms: int) -> str:
    """orderLinkId of a reduce-only close: ``cl-<reason>-<symbol>-<ms>`` (the reason first, so a long symbol's
    hash never cuts it off): the close is later named by it (``close_link_reason``)."""
    return order_link_id(CLOSE_PREFIX.rstrip("-"), reason[:8], symbol, str(now_ms))


def close_link_reason(link: str) -> CloseReason | None:
    """Why the bot sent the close with orderLinkId ``link`` (None: not readable, e.g. an older link)."""
    part = link.split("-")[1] if link.startswith(CLOSE_PREFIX) and link.count("-") >= 1 else ""
    return next((r for r in CloseReason if r[:8] == part), None)


def protected(position: Position, trade: TradeRecord | None = None) -> bool:
    """Whether the exchange holds a stop that acts now: a stop-loss, or a trailing stop known to be active.

    A trailing stop with an activation price does nothing until that price trades (position/trading-stop.mdx), and
    the position does not say whether it has (position/position.mdx has ``trailingStop`` only): it counts only when
    it is the trade's own (same distance) and the trade's best price has reached its activation price."""
    if position.stop_loss:
        return True
    if not position.trailing_stop or trade is None or trade.trailing_distance != position.trailing_stop:
        return False
    return trailing_active(Side(trade.side), trade.trailing_active_price, trade.best_price)


@dataclass(frozen=True)
class EntryResult:
    ok: bool
    text: str
    trade_id: int | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    unknown: bool = False  # the order may exist on the exchange: reconciliation settles it
    note: str = ""  # how a maker-first entry went (filled as maker, partly, or the market fallback), for the answer


@dataclass(frozen=True)
class Fill:
    price: Decimal
    qty: Decimal
    fee: Decimal  # in USDT, the settle coin
    time: datetime
    other_fees: dict[str, Decimal] = field(default_factory=dict)  # {coin: fee} never added to ``fee``


def fill_from(order: Order, executions: list[Execution]) -> Fill | None:
    """Real average price, qty and fees of an order, from its Trade executions (the order row as fallback).

    Fees are kept per coin: the USDT fee is ``fee``; a fee charged in any other coin goes to ``other_fees``."""
    trades = [e for e in executions if e.exec_type == "Trade" and e.order_id == order.order_id]
    if trades:
        qty = sum((e.exec_qty for e in trades), ZERO)
        if qty > 0:
            value = sum((e.exec_price * e.exec_qty for e in trades), ZERO)
            when = max(e.exec_time_ms for e in trades)
            fees: dict[str, Decimal] = {}
            for e in trades:
                fees[e.fee_currency] = fees.get(e.fee_currency, ZERO) + e.exec_fee
            usdt = fees.pop(SETTLE_COIN, ZERO)
            return Fill(value / qty, qty, usdt, ms_to_datetime(when), fees)
    if order.cum_exec_qty > 0 and order.avg_price:
        return Fill(order.avg_price, order.cum_exec_qty, order.cum_exec_fee, ms_to_datetime(order.updated_ms),
                    dict(order.other_fees))
    return None


class Trader:
    """Places entries and closes through the one client and journals them; emits events, never raises on rejects."""

    def __init__(self, client: BybitClient, journal: Journal, bus: EventBus) -> None:
        self.client, self.journal, self.bus = client, journal, bus
        self.sleep: Sleep = asyncio.sleep  # the maker entry's waits (tests move the market meanwhile)

    async def enter(
        self, *, symbol: str, side: Side, qty: Decimal, sl: Decimal, tp: Decimal, atr: Decimal, inst: Instrument,
        risk: RiskParams, link_root: str, confirmation_id: str | None = None, signal_id: int | None = None,
        execution: ExecutionSettings | None = None, fallback_qty: Decimal | None = None, limit_tp: bool = False,
    ) -> EntryResult:
        """Market entry with TP/SL attached (Full mode), or with ``execution`` maker first (:meth:`enter_maker`,
        ``fallback_qty`` for its market fallback). ``limit_tp``: no TP on the order, the maker take-profit is
        added after the fill. The orderLinkId comes from ``link_root``: never twice.

        First the symbol's leverage on the exchange is made the configured one again if it was changed by hand on
        the website (the sizing's margin and liquidation assume it)."""
        await self.ensure_leverage(symbol, inst, risk)
        if execution is not None and execution.maker:
            return await self.enter_maker(symbol=symbol, side=side, qty=qty, sl=sl, tp=tp, atr=atr, inst=inst,
                                          risk=risk, link_root=link_root, confirmation_id=confirmation_id,
                                          signal_id=signal_id, execution=execution,
                                          fallback_qty=qty if fallback_qty is None else fallback_qty)
        return await self._enter_market(symbol=symbol, side=side, qty=qty, sl=sl, tp=tp, atr=atr, inst=inst,
                                        risk=risk, link_root=link_root, confirmation_id=confirmation_id,
                                        signal_id=signal_id, limit_tp=limit_tp)

    async def ensure_leverage(self, symbol: str, inst: Instrument, risk: RiskParams) -> None:
        """Set the configured leverage (capped at the instrument's) when the exchange shows another one; a failure
        is an alert, not a refusal (the order's own margin check still applies)."""
        want = inst.leverage(risk.leverage)
        try:
            have = await self.client.leverage(symbol)
            if have is not None and have != want:
                log.warning("%s: leverage on the exchange is %s (changed by hand?); setting %s before the entry",
                            symbol, have, want)
                await self.client.set_leverage(symbol, want)
        except ExchangeError as exc:
            await self.bus.emit(ErrorEvent(f"{symbol}: could not check or set leverage {want}: {exc}", symbol))

    async def _begin(self, link_root: str, symbol: str, side: Side, qty: Decimal,
                     confirmation_id: str | None) -> tuple[str, EntryResult | None]:
        """The entry's link id, and the result to return at once when that link was already executed (a repeated
        approval or a restart): one entry per link, whichever way it is sent."""
        link = entry_link_id(link_root)
        done = await self.journal.trades.begin_entry(link=link, symbol=symbol, side=side, qty=qty,
                                                     confirmation_id=confirmation_id)
        return link, (None if done is None else EntryResult(False, "already executed", done))

    async def _unknown(self, symbol: str, what: str, exc: ExchangeError) -> EntryResult:
        """An entry whose outcome the exchange left unknown: said in chat; reconciliation resolves it."""
        await self.bus.emit(ErrorEvent(f"{symbol}: {what} outcome unknown ({exc}); will reconcile", symbol))
        return EntryResult(False, f"outcome unknown ({exc}); the bot will check the exchange and report",
                           unknown=True)

    async def _enter_market(
        self, *, symbol: str, side: Side, qty: Decimal, sl: Decimal, tp: Decimal, atr: Decimal, inst: Instrument,
        risk: RiskParams, link_root: str, confirmation_id: str | None, signal_id: int | None, limit_tp: bool,
    ) -> EntryResult:
        link, done = await self._begin(link_root, symbol, side, qty, confirmation_id)
        if done is not None:
            return done
        try:
            ack = await self.client.place(NewOrder(
                symbol=symbol, side=side, qty=qty, order_link_id=link, take_profit=None if limit_tp else tp,
                stop_loss=sl, tp_trigger_by=None if limit_tp else TriggerBy.LAST_PRICE,
                sl_trigger_by=TriggerBy.LAST_PRICE))
        except BybitAPIError as exc:
            return await self._failed(link, symbol, side, confirmation_id, str(exc), status="Rejected")
        except ExchangeError as exc:  # outcome unknown even after lookups: reconciliation resolves it
            return await self._unknown(symbol, f"entry {link}", exc)
        order = await self.client.wait_order(symbol, order_id=ack.order_id or None, order_link_id=link)
        if order is None:
            return EntryResult(False, "order accepted but not visible yet; the bot will reconcile it", unknown=True)
        res = await self.record_entry(order, symbol=symbol, side=side, sl=sl, tp=tp, atr=atr, inst=inst,
                                      risk=risk, confirmation_id=confirmation_id, signal_id=signal_id)
        return await self.add_limit_tp(res, symbol, tp) if limit_tp else res

    async def enter_maker(
        self, *, symbol: str, side: Side, qty: Decimal, sl: Decimal, tp: Decimal, atr: Decimal, inst: Instrument,
        risk: RiskParams, link_root: str, execution: ExecutionSettings, fallback_qty: Decimal,
        confirmation_id: str | None = None, signal_id: int | None = None,
    ) -> EntryResult:
        """Maker first (tradebot/care/maker_entry.py): the PostOnly limit at the touch, re-priced; what filled is the
        position (the rest cancelled) with a maker take-profit for it; nothing filled: a market entry of
        ``fallback_qty`` (sized at the taker rate) or no trade, as ``execution.fallback`` says."""
        link, done = await self._begin(link_root, symbol, side, qty, confirmation_id)
        if done is not None:
            return done
        try:
            got = await rest_limit(self.client, symbol=symbol, side=side, qty=qty, sl=sl, link=link, inst=inst,
                                   execution=execution, sleep=self.sleep)
        except ExchangeError as exc:  # the order may rest or have filled: reconciliation resolves it
            return await self._unknown(symbol, f"maker entry {link}", exc)
        if got.filled and got.order is not None:
            res = await self.record_entry(got.order, symbol=symbol, side=side, sl=sl, tp=tp, atr=atr, inst=inst,
                                          risk=risk, confirmation_id=confirmation_id, signal_id=signal_id)
            part = (f"partly: {num(got.order.cum_exec_qty)} of {num(qty)}, the rest cancelled"
                    if got.order.cum_exec_qty < qty else "at the maker fee")
            return replace(await self.add_limit_tp(res, symbol, tp), note=f"Entered as a PostOnly limit, {part}.")
        why = got.error or (f"the PostOnly limit was not filled in {execution.reprice_window_s:g} s "
                            f"({got.reprices} re-price(s))")
        status = got.order.status if got.order is not None else "Rejected"
        await self.journal.trades.order_update(link, status=status, error=why[:500],
                                               order_id=got.order.order_id if got.order else None)
        if execution.fallback == "skip" or fallback_qty <= 0:
            return await self._failed(link, symbol, side, confirmation_id, f"{why}; fallback skip: no trade",
                                      status=status)
        log.info("%s: %s; entering at market (%s, re-sized at the taker fee)", symbol, why, fallback_qty)
        res = await self._enter_market(symbol=symbol, side=side, qty=fallback_qty, sl=sl, tp=tp, atr=atr,
                                       inst=inst, risk=risk, link_root=f"{link_root}m",
                                       confirmation_id=confirmation_id, signal_id=signal_id, limit_tp=True)
        resized = f", size {num(qty)} → {num(fallback_qty)} to keep the risk" if fallback_qty != qty else ""
        return replace(res, note=f"{why[0].upper()}{why[1:]}: entered at market (taker fee){resized}.")

    async def add_limit_tp(self, res: EntryResult, symbol: str, tp: Decimal) -> EntryResult:
        """After a filled entry: the take-profit as a maker limit for the filled size."""
        if res.ok and res.qty and tp > 0:
            why = await add_limit_take_profit(self.client, symbol, tp, res.qty)
            if why is not None:
                await self.bus.emit(ErrorEvent(f"{symbol}: the limit take-profit was not set ({why}); the stop-loss "
                                               "still protects the position", symbol))
        return res

    async def record_entry(
        self, order: Order, *, symbol: str, side: Side, sl: Decimal | None, tp: Decimal | None, atr: Decimal,
        inst: Instrument, risk: RiskParams, confirmation_id: str | None = None, signal_id: int | None = None,
    ) -> EntryResult:
        """Journal a filled entry order (also used by reconciliation), then make sure the position is protected."""
        link = order.order_link_id
        execs = await self.client.executions(symbol, order_id=order.order_id)
        fill = fill_from(order, execs)
        if fill is None:
            status = order.status if order.is_final else "Unknown"
            await self.journal.trades.order_update(link, order_id=order.order_id, status=status)
            if order.is_final:
                return await self._failed(link, symbol, side, confirmation_id,
                                          f"order {order.status.lower()} without a fill {order.reject_reason}".strip(),
                                          status=order.status)
            return EntryResult(False, "order not filled yet; the bot will reconcile it", unknown=True)
        trailing = None
        if risk.trailing_mode == "exchange" and atr > 0:
            try:
                trailing = exchange_trailing(side=side, entry=fill.price, atr=atr, inst=inst, params=risk)
            except ValueError as exc:  # an activation price <= 0 is never sent (Bybit reads 0 as "active now")
                await self.bus.emit(ErrorEvent(f"{symbol}: no exchange trailing stop: {exc}", symbol))
        trade_id = await self.journal.trades.open_filled(
            link=link, order_id=order.order_id, status=order.status, symbol=symbol, side=side, qty=fill.qty,
            price=fill.price, time=fill.time, fee=fill.fee, sl=sl, tp=tp,
            trailing_distance=trailing.distance if trailing else None,
            trailing_active_price=trailing.active_price if trailing else None, signal_id=signal_id,
            confirmation_id=confirmation_id, atr=atr)
        await self.bus.emit(EntryFilled(symbol, side, fill.qty, fill.price, fill.fee, sl, tp, trade_id,
                                        confirmation_id, trailing.distance if trailing else None,
                                        trailing.active_price if trailing else None))
        if fill.other_fees:  # never added to the USDT fee: said plainly instead
            other = ", ".join(f"{v} {coin}" for coin, v in sorted(fill.other_fees.items()))
            log.warning("%s entry %s: fees also charged in other coins: %s", symbol, link, other)
            await self.bus.emit(ErrorEvent(f"{symbol}: the entry also paid fees in other coins ({other}); they are "
                                           "not in the USDT fee or PnL figures", symbol))
        await self.ensure_protected(symbol, trade_id, inst=inst, risk=risk)
        return EntryResult(True, f"filled {fill.qty} @ {fill.price}", trade_id, fill.price, fill.qty)

    async def _failed(self, link: str, symbol: str, side: Side, confirmation_id: str | None, reason: str,
                      status: str) -> EntryResult:
        await self.journal.trades.order_update(link, status=status, error=reason[:500])
        await self.bus.emit(EntryFailed(symbol, side, reason, confirmation_id))
        return EntryResult(False, reason)

    async def ensure_protected(self, symbol: str, trade_id: int, *, inst: Instrument, risk: RiskParams,
                               position: Position | None = None, atr: Decimal | None = None) -> bool:
        """Make sure the exchange holds a stop that acts now (``protected``: a trailing stop still waiting for its
        activation price does not count); if a stop-loss cannot be set, close the position.

        Returns True when the position is protected (or already flat).
        """
        if position is None:
            found = await self.client.positions(symbol)
            if not found:
                return True
            position = found[0]
        trade = await self.journal.trades.get(trade_id)
        assert trade is not None
        ok = True
        if not protected(position, trade):
            sl = trade.sl or self.fallback_stop(position, atr or trade.atr, inst, risk)
            tp = None if position.take_profit else trade.tp
            try:
                await self.client.trading_stop(TradingStop(symbol=symbol, stop_loss=sl, take_profit=tp))
                log.warning("%s: stop was missing on the exchange; set SL %s", symbol, sl)
            except ExchangeError as exc:  # business reject or transport failure: never leave it unprotected
                ok = False
                await self.bus.emit(ErrorEvent(
                    f"{symbol}: could not set the stop-loss ({exc}); closing the position so it is never "
                    "left unprotected", symbol, critical=True))
                await self.close(symbol, reason=CloseReason.UNPROTECTED)
                return False
        if (risk.trailing_mode == "exchange" and trade.trailing_distance and position.trailing_stop is None
                and not trade.breakeven_done):
            try:
                await self.client.trading_stop(TradingStop(symbol=symbol, trailing_stop=trade.trailing_distance,
                                                           active_price=trade.trailing_active_price))
            except BybitAPIError as exc:
                await self.bus.emit(ErrorEvent(f"{symbol}: trailing stop not set ({exc}); the SL still protects",
                                               symbol))
        return ok

    @staticmethod
    def fallback_stop(position: Position, atr: Decimal | None, inst: Instrument, risk: RiskParams) -> Decimal:
        """A stop for a position we know nothing about: sl_atr ATRs from entry, or 2% when ATR is unknown."""
        dist = (atr * risk.sl_atr) if atr and atr > 0 else position.avg_price * Decimal("0.02")
        sign = position.held.sign
        ref = position.mark_price or position.avg_price
        raw = min(position.avg_price, ref) - dist if sign > 0 else max(position.avg_price, ref) + dist
        return stop_price(raw, inst, position.held)

    @staticmethod
    def fallback_take_profit(position: Position, atr: Decimal | None, inst: Instrument, risk: RiskParams) -> Decimal:
        dist = (atr * risk.tp_atr) if atr and atr > 0 else position.avg_price * Decimal("0.04")
        raw = position.avg_price + dist * position.held.sign
        return take_profit_price(raw, inst, position.held)

    async def close(self, symbol: str, *, reason: CloseReason = CloseReason.MANUAL) -> str:
        """Reduce-only market close of the whole position; the close itself is journaled by position sync."""
        found = await self.client.positions(symbol)
        if not found:
            return f"{symbol}: no open position"
        pos = found[0]
        now_ms = await self.client.server_time_ms()
        link = close_link_id(symbol, reason, now_ms)
        side = pos.held.opposite
        await self.journal.trades.close_sent(link=link, symbol=symbol, side=side, qty=pos.size)
        try:
            ack = await self.client.place(NewOrder(symbol=symbol, side=side, qty=pos.size, order_link_id=link,
                                                   reduce_only=True))
        except OrderRejected as exc:
            if exc.code == 110017:  # nothing left to reduce: already flat
                return f"{symbol}: already flat"
            await self.journal.trades.order_update(link, status="Rejected", error=str(exc)[:500])
            return f"{symbol}: close rejected: {exc}"
        except (TransportError, ExchangeError) as exc:
            return f"{symbol}: close outcome unknown ({exc}); the bot will check on the next tick"
        order = await self.client.wait_order(symbol, order_id=ack.order_id or None, order_link_id=link)
        if order is not None:
            await self.journal.trades.order_update(link, order_id=order.order_id, status=order.status,
                                                   avg_price=order.avg_price, cum_exec_qty=order.cum_exec_qty)
        if order is None or order.status != "Filled":
            return f"{symbol}: close sent, status {order.status if order else 'unknown'}"
        return f"{symbol}: closed {num(order.cum_exec_qty)} @ {num(order.avg_price)}"
