"""ConfirmationDesk: ask (card), approve (claim once, re-check price, re-size at the tap, enter), reject, expire, settle after a crash."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from storage.journal import Journal
from storage.models import TERMINAL_ORDER_STATUSES, Confirmation
from tradebot.bybit.client import BybitClient
from tradebot.care.trader import Trader, entry_link_id
from tradebot.errors import ExchangeError
from tradebot.events import ConfirmationExpired, ConfirmationNeeded, ErrorEvent, EventBus
from tradebot.money import ZERO
from tradebot.outcome import Outcome
from tradebot.settings.config import BotSettings
from tradebot.side import Side
from tradebot.sizing.execution import taker_qty
from tradebot.sizing.instruments import round_price
from tradebot.sizing.risk import (
    RiskParams,
    Sizing,
    cross_liquidation_price,
    maintenance_margin,
    size_position,
)
from tradebot.sizing.stopspec import at_distance
from tradebot.states import ConfirmationStatus as CS
from tradebot.states import OutcomeStatus as OS
from tradebot.strategy import Signal
from tradebot.text import num
from tradebot.tick.gate import BlockKind, EntryBlock, EntryGate
from tradebot.tick.locks import TradeLocks
from tradebot.tick.reader import MarketReader
from tradebot.tick.resize import size_at_tap
from tradebot.tick.saved import SavedSettings

log = logging.getLogger("tradebot.tick.engine")
Resting = Callable[[float], Awaitable[None]]  # told, before a maker-first entry rests, how many seconds it may


@dataclass(frozen=True)
class CardEntry:
    """What an approved card asked for, as the journal holds it."""

    conf_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    sl: Decimal | None
    tp: Decimal | None
    signal_id: int | None
    created_at: datetime
    risk_usdt: Decimal | None = None  # the card's risk after fees (a maker entry's market fallback keeps within it)
    origin: str = "signal"  # "manual": asked by /long or /short

    @classmethod
    def of(cls, conf: Confirmation) -> CardEntry:
        return cls(conf.id, conf.symbol, Side(conf.side), conf.qty, conf.price, conf.sl, conf.tp, conf.signal_id,
                   conf.created_at, conf.risk_usdt, conf.origin)


class ConfirmationDesk:
    """Confirmation cards from signal to order: exactly one order per card however often it is tapped."""

    def __init__(self, *, bot: BotSettings, journal: Journal, bus: EventBus, client: BybitClient, market: MarketReader,
                 gate: EntryGate, settings: SavedSettings, trader: Trader, locks: TradeLocks,
                 clock: Callable[[], datetime]) -> None:
        self.bot, self.journal, self.bus, self.client, self.market = bot, journal, bus, client, market
        self.gate, self.settings, self.trader, self.locks, self.clock = gate, settings, trader, locks, clock

    async def waiting(self, symbol: str) -> EntryBlock | None:
        """A card for ``symbol`` already waits for an answer: no second one."""
        if await self.journal.cards.pending(symbol):
            return EntryBlock(BlockKind.WAITING, f"a {symbol} confirmation is already waiting")
        return None

    async def ask(self, symbol: str, signal: Signal, sizing: Sizing, signal_id: int | None, now: datetime,
                  replaces: str | None = None, manual_by: str | None = None) -> str:
        """A card for ``sizing``; ``manual_by``: who asked for it by hand (/long, /short): a manual card, the
        same in every other way, whose entry the journal keeps as a manual trade."""
        ttl = timedelta(seconds=self.bot.confirmation_expiry_seconds)
        conf = await self.journal.cards.create(symbol=symbol, side=sizing.side, qty=sizing.qty,
                                               price=sizing.entry_price, ttl=ttl, now=now, sl=sizing.sl, tp=sizing.tp,
                                               risk_usdt=sizing.risk_usdt, signal_id=signal_id,
                                               origin="signal" if manual_by is None else "manual")
        conf_id, expires = conf.id, conf.expires_at
        await self.bus.emit(ConfirmationNeeded(conf_id, symbol, sizing.side, sizing.entry_price, sizing.qty,
                                               sizing.sl, sizing.tp, sizing.risk_usdt, sizing.risk_pct_of_balance,
                                               sizing.reward_risk, await self._card_liquidation(symbol, sizing),
                                               sizing.notional, signal, expires, replaces, sizing.fees_usdt,
                                               sizing.fee_rate, sizing.risk_base, sizing.entry_fee_rate,
                                               self.settings.cfg.execution.maker, manual_by, capped=sizing.capped,
                                               asked_pct=self.settings.risk.risk_pct))
        return conf_id

    async def _card_liquidation(self, symbol: str, sizing: Sizing) -> Decimal | None:
        """The card's cross-margin liquidation estimate: 0 when none, None when the wallet cannot be read."""
        try:
            wallet = await self.client.wallet()
            others = [p for p in await self.client.positions() if p.is_open and p.symbol != symbol]
        except ExchangeError as exc:
            log.warning("%s: no liquidation estimate for the card: %s", symbol, exc)
            return None
        opening_fee = sizing.notional * self.settings.risk.taker_fee_rate  # the equity right after the fill
        liq = cross_liquidation_price(Side(sizing.side), sizing.entry_price, sizing.qty,
                                      wallet.total_equity - opening_fee, other_maintenance=maintenance_margin(others))
        return ZERO if liq is None else round_price(liq, self.market.instruments[symbol], "nearest")

    async def approve(self, conf_id: str, user_id: int, resting: Resting | None = None) -> Outcome:
        """Approve a confirmation: exactly one order however often it is tapped, from however many devices.
        ``resting(seconds)`` is awaited once when the entry is about to rest as a maker limit for up to that long
        (the chat answers the tap then instead of after the wait); its failure never stops the trade."""
        now = self.clock()
        conf, status, claimed = await self.journal.cards.claim(conf_id, user_id, now)
        if conf is None:
            return Outcome(OS.UNKNOWN, "This confirmation does not exist (any more).")
        card = CardEntry.of(conf)
        if not claimed:
            if status == CS.PENDING:  # still pending but not claimable: it has expired
                await self.journal.cards.expire(now)
                return Outcome(OS.EXPIRED, "Too late: this confirmation has expired. Nothing was traded.", conf_id)
            return Outcome(OS.ALREADY, f"Already handled ({status}). Nothing more was done.", conf_id)
        async with self.locks.symbol(card.symbol):
            return await self._execute(card, now, resting)

    async def _finish(self, conf_id: str, status: CS, text: str) -> Outcome:
        await self.journal.cards.settle(conf_id, status, text=text[:500])
        return Outcome(OS(status.value), text, conf_id)

    async def _execute(self, card: CardEntry, now: datetime, resting: Resting | None = None) -> Outcome:
        conf_id, symbol, side, price, sl, tp = card.conf_id, card.symbol, card.side, card.price, card.sl, card.tp
        block = await self.gate.block(symbol, self.market.now_for(symbol))
        if block is not None:
            return await self._finish(conf_id, CS.FAILED, f"Not traded: {block}.")
        try:  # start() failed (exchange down at launch): load the rules now
            inst = await self.market.instrument(symbol)
        except ExchangeError as exc:
            return await self._finish(conf_id, CS.FAILED, f"Not traded: the exchange is not reachable ({exc}).")
        signal = self.market.last_signals.get(symbol)
        if signal is None:  # a fresh process (tap right after a restart): read the market now, under our lock
            try:
                signal = (await self.market.snapshot(symbol)).signal
                self.market.remember(signal)
            except ExchangeError:
                signal = None
        atr = signal.atr if signal else self.market.atrs.get(symbol, ZERO)
        try:
            last = (await self.client.ticker(symbol)).last_price
        except ExchangeError as exc:
            return await self._finish(conf_id, CS.FAILED, f"Not traded: could not re-check the price ({exc}).")
        drift = abs(last - price)
        limit = atr * Decimal(str(self.bot.max_price_drift_atr))
        stale_after = timedelta(seconds=self.bot.confirmation_expiry_seconds)
        sign = side.sign  # a card whose SL/TP the price already crossed cannot be placed as is
        crossed = bool((sl and sign * (last - sl) <= 0) or (tp and sign * (tp - last) <= 0))
        if (atr > 0 and drift > limit) or crossed or now - card.created_at > stale_after:
            await self._finish(conf_id, CS.STALE,
                         f"Price moved {drift} since the card ({price} → {last}); asking again with fresh numbers.")
            available = await self.gate.available(self.market.now_for(symbol))
            fees = self.gate.sizing_fees(symbol)
            size_atr, params = self._card_stop(card, atr)
            sizing = size_position(side=side, entry_price=last, atr=size_atr, available_balance=available, inst=inst,
                                   params=params, fee_rate=fees.stop, entry_fee_rate=fees.entry,
                                   tp_fee_rate=fees.tp)
            if not sizing.ok or signal is None:
                return Outcome(OS.STALE, f"Price moved {drift}; not re-asking: {sizing.refused or 'no signal'}.")
            new_id = await self.ask(symbol, signal, sizing, card.signal_id, now, replaces=conf_id,
                                    manual_by="" if card.origin == "manual" else None)
            return Outcome(OS.STALE, f"Price moved from {price} to {last} (more than "
                           f"{self.bot.max_price_drift_atr} ATR). A fresh confirmation was sent.", new_id)
        if atr <= 0 and sl:  # no ATR at hand (a fresh process that cannot read the market): the card's distance
            atr = abs(price - sl) / self.settings.risk.sl_atr
        available = await self.gate.available(self.market.now_for(symbol))  # the balance at the tap
        tap_fees = self.gate.sizing_fees(symbol)  # the card's fees: the entry's own rate (maker first), a taker stop
        size_atr, params = self._card_stop(card, atr)
        sized = size_at_tap(side=side, card_qty=card.qty, card_price=price, card_risk=card.risk_usdt, last=last,
                            atr=size_atr, available=available, inst=inst, params=params,
                            fee_rate=tap_fees.stop, entry_fee_rate=tap_fees.entry, tp_fee_rate=tap_fees.tp)
        if not sized.ok:
            return await self._finish(conf_id, CS.FAILED, f"Not traded: re-sized at {num(last)}: {sized.refused}.")
        await self.journal.cards.settle(conf_id, CS.EXECUTING, expected=CS.APPROVED,
                                        order_link_id=entry_link_id(conf_id))
        execution = self.settings.cfg.execution
        if resting is not None and execution.maker:
            try:
                await resting(execution.reprice_window_s)
            except Exception:  # a chat that cannot be told must not stop an approved trade
                log.exception("%s: could not say that the entry rests as a maker limit", symbol)
        async with self.locks.entry:
            fallback = taker_qty(sized.qty, sized.risk_usdt, last, tap_fees.entry, tap_fees.stop, inst,
                                 max_fee_share=self.settings.risk.max_fee_share)
            res = await self.trader.enter(symbol=symbol, side=side, qty=sized.qty, sl=sized.sl, tp=sized.tp,
                                          atr=atr, inst=inst, risk=self.settings.risk, link_root=conf_id,
                                          confirmation_id=conf_id, signal_id=card.signal_id, execution=execution,
                                          fallback_qty=fallback)
        changed = f" The {sized.changed}." if sized.changed else ""
        changed += f" {res.note}" if res.note else ""
        if res.ok:
            return await self._finish(conf_id, CS.EXECUTED,
                                      f"Filled {num(res.qty)} {symbol} @ {num(res.price)}.{changed}")
        if res.unknown:  # a typed flag, not "unknown" in the text: an unknown retCode is a plain rejection
            return Outcome(OS.EXECUTING, f"Order sent; {res.text}{changed}", conf_id)
        return await self._finish(conf_id, CS.FAILED, f"Not traded: {res.text}")

    def _card_stop(self, card: CardEntry, atr: Decimal) -> tuple[Decimal, RiskParams]:
        """The ATR and settings to size ``card`` again with: a manual card keeps its own stop's distance (a stop
        given by hand, tradebot/sizing/stopspec.py); a signal's, ``sl_atr`` ATRs."""
        distance = card.side.sign * (card.price - card.sl) if card.sl else ZERO
        if card.origin == "manual" and distance > 0:
            return at_distance(self.settings.risk, atr if atr > 0 else distance, distance)
        return atr, self.settings.risk

    async def reject(self, conf_id: str, user_id: int) -> Outcome:
        ok, conf = await self.journal.cards.reject(conf_id, user_id, self.clock())
        if ok:
            return Outcome(OS.REJECTED, "Rejected. Nothing was traded.", conf_id)
        if conf is None:
            return Outcome(OS.UNKNOWN, "This confirmation does not exist (any more).")
        return Outcome(OS.ALREADY, f"Already handled ({conf.status}).", conf_id)

    async def expire(self) -> list[str]:
        expired = await self.journal.cards.expire(self.clock())
        for cid, symbol in expired:
            await self.bus.emit(ConfirmationExpired(cid, symbol))
        return [cid for cid, _ in expired]

    async def settle_interrupted(self, before: datetime) -> None:
        """Confirmations a previous process claimed (approved/executing) and died on: settle them from the journal
        once reconciliation has resolved their orders, so none stays "approved" forever. Nothing is re-sent."""
        claimed = (CS.APPROVED, CS.EXECUTING)
        stuck = [(c.id, c.symbol) for c in await self.journal.cards.with_status(claimed)
                 if c.decided_at is None or c.decided_at < before]
        for conf_id, symbol in stuck:
            order = await self.journal.trades.order(entry_link_id(conf_id))
            if order is not None and order.trade_id is not None:
                status, text = CS.EXECUTED, f"Filled {num(order.cum_exec_qty)} {symbol} @ {num(order.avg_price)}."
            elif order is None or (order.status in TERMINAL_ORDER_STATUSES and order.status != "Filled"
                                   and order.cum_exec_qty == 0):
                status, text = CS.FAILED, "Interrupted by a restart before the order filled; nothing was traded."
            else:
                continue  # outcome still unknown: reconciliation keeps checking the order
            await self.journal.cards.settle(conf_id, status, text=text, expected=claimed)
            log.warning("confirmation %s was cut off by a restart: %s", conf_id, status)
            if status == CS.FAILED:
                await self.bus.emit(ErrorEvent(f"{symbol}: an approved entry was interrupted by a restart before "
                                               "its order filled; nothing was traded.", symbol))
