"""Order execution: one protected market entry per intent, fill confirmed from the exchange, reduce-only closes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from storage.journal import Journal
from tradebot.bybit.account_models import SETTLE_COIN, Execution, Order, Position
from tradebot.bybit.client import BybitClient, order_link_id
from tradebot.errors import BybitAPIError, ExchangeError, OrderRejected, TransportError
from tradebot.events import EntryFailed, EntryFilled, ErrorEvent, EventBus
from tradebot.formatting import num
from tradebot.instruments import Instrument, stop_price, take_profit_price
from tradebot.money import ZERO
from tradebot.risk import RiskParams
from tradebot.side import Side
from tradebot.states import CloseReason
from tradebot.stops import exchange_trailing
from tradebot.timeutil import ms_to_datetime

log = logging.getLogger("tradebot.trader")
CLOSE_PREFIX = "cl-"


def entry_link_id(root: str) -> str:
    """orderLinkId of the entry for one intent (a confirmation id, or symbol+bar in auto mode)."""
    return order_link_id("en", root)


@dataclass(frozen=True)
class EntryResult:
    ok: bool
    text: str
    trade_id: int | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    unknown: bool = False  # the order may exist on the exchange: reconciliation settles it


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

    async def enter(
        self, *, symbol: str, side: Side, qty: Decimal, sl: Decimal, tp: Decimal, atr: Decimal, inst: Instrument,
        risk: RiskParams, link_root: str, confirmation_id: str | None = None, signal_id: int | None = None,
    ) -> EntryResult:
        """Market entry with TP/SL attached (Full mode). The orderLinkId comes from ``link_root``: never twice."""
        link = entry_link_id(link_root)
        done = await self.journal.trades.begin_entry(link=link, symbol=symbol, side=side, qty=qty,
                                                     confirmation_id=confirmation_id)
        if done is not None:
            return EntryResult(False, "already executed", done)
        try:
            ack = await self.client.place_order(symbol=symbol, side=side, qty=qty, order_link_id=link,
                                                take_profit=tp, stop_loss=sl, tp_trigger_by="LastPrice",
                                                sl_trigger_by="LastPrice")
        except BybitAPIError as exc:
            return await self._failed(link, symbol, side, confirmation_id, str(exc), status="Rejected")
        except ExchangeError as exc:  # outcome unknown even after lookups: reconciliation resolves it
            await self.bus.emit(ErrorEvent(f"{symbol}: entry {link} outcome unknown ({exc}); will reconcile",
                                           symbol))
            return EntryResult(False, f"outcome unknown ({exc}); the bot will check the exchange and report",
                               unknown=True)
        order = await self.client.wait_order(symbol, order_id=ack.order_id or None, order_link_id=link)
        if order is None:
            return EntryResult(False, "order accepted but not visible yet; the bot will reconcile it", unknown=True)
        return await self.record_entry(order, symbol=symbol, side=side, sl=sl, tp=tp, atr=atr, inst=inst,
                                       risk=risk, confirmation_id=confirmation_id, signal_id=signal_id)

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
        """Make sure the exchange holds a stop for the position; if it cannot be set, close the position.

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
        if position.stop_loss is None and position.trailing_stop is None:
            sl = trade.sl or self.fallback_stop(position, atr or trade.atr, inst, risk)
            tp = None if position.take_profit else trade.tp
            try:
                await self.client.set_trading_stop(symbol=symbol, stop_loss=sl, take_profit=tp)
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
                await self.client.set_trading_stop(symbol=symbol, trailing_stop=trade.trailing_distance,
                                                   active_price=trade.trailing_active_price)
            except BybitAPIError as exc:
                await self.bus.emit(ErrorEvent(f"{symbol}: trailing stop not set ({exc}); the SL still protects",
                                               symbol))
        return ok

    @staticmethod
    def fallback_stop(position: Position, atr: Decimal | None, inst: Instrument, risk: RiskParams) -> Decimal:
        """A stop for a position we know nothing about: sl_atr ATRs from entry, or 2% when ATR is unknown."""
        dist = (atr * risk.sl_atr) if atr and atr > 0 else position.avg_price * Decimal("0.02")
        sign = Side(position.side).sign
        ref = position.mark_price or position.avg_price
        raw = min(position.avg_price, ref) - dist if sign > 0 else max(position.avg_price, ref) + dist
        return stop_price(raw, inst, Side(position.side))

    @staticmethod
    def fallback_take_profit(position: Position, atr: Decimal | None, inst: Instrument, risk: RiskParams) -> Decimal:
        dist = (atr * risk.tp_atr) if atr and atr > 0 else position.avg_price * Decimal("0.04")
        raw = position.avg_price + dist * Side(position.side).sign
        return take_profit_price(raw, inst, Side(position.side))

    async def close(self, symbol: str, *, reason: CloseReason = CloseReason.MANUAL) -> str:
        """Reduce-only market close of the whole position; the close itself is journaled by position sync."""
        found = await self.client.positions(symbol)
        if not found:
            return f"{symbol}: no open position"
        pos = found[0]
        now_ms = await self.client.server_time_ms()
        link = order_link_id(CLOSE_PREFIX.rstrip("-"), symbol, reason[:8], str(now_ms))
        side = Side(pos.side).opposite
        await self.journal.trades.close_sent(link=link, symbol=symbol, side=side, qty=pos.size)
        try:
            ack = await self.client.place_order(symbol=symbol, side=side, qty=pos.size, order_link_id=link,
                                                reduce_only=True)
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
