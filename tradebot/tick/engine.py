"""TradingEngine: the per-symbol tick (read market → manage position → journal signal → confirm/enter) over its parts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from storage.journal import Journal
from tradebot.bybit.client import BybitClient
from tradebot.care.positions import PositionManager
from tradebot.care.trader import Trader
from tradebot.errors import ExchangeError
from tradebot.events import ErrorEvent, EventBus, Lifecycle, ProtectionTripped, SignalEvent
from tradebot.intents import UnknownDecision
from tradebot.money import ZERO
from tradebot.outcome import Outcome
from tradebot.settings.config import Config
from tradebot.side import Side
from tradebot.sizing.execution import taker_qty
from tradebot.sizing.instruments import format_decimal
from tradebot.sizing.risk import size_position
from tradebot.states import CloseReason, TradeMode
from tradebot.states import OutcomeStatus as OS
from tradebot.strategy import Signal
from tradebot.tick.account import check_account
from tradebot.tick.applying import SettingsApplier
from tradebot.tick.desk import ConfirmationDesk
from tradebot.tick.gate import EntryBlock, EntryGate
from tradebot.tick.locks import TradeLocks
from tradebot.tick.reader import MarketReader, Snapshot
from tradebot.tick.saved import SavedSettings
from tradebot.timeutil import utcnow

log = logging.getLogger("tradebot.tick.engine")


@dataclass
class TickStatus:
    time: datetime
    ok: bool
    score: float | None = None
    action: str | None = None
    bar_time: datetime | None = None
    error: str | None = None


@dataclass
class TradingEngine:
    """Owns the trading loop's parts. One instance per process; every exchange call goes through ``client``."""

    cfg: Config
    client: BybitClient
    journal: Journal
    bus: EventBus = field(default_factory=EventBus)
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        bot = self.cfg.bot
        self.settings = SavedSettings(self.cfg, self.journal, self.clock)
        self.market = MarketReader(self.client, bot.interval, bot.candles, lambda: self.settings.strategy, self.clock)
        self.gate = EntryGate(self.journal, self.settings, self.client)
        self.locks = TradeLocks(bot.symbols)
        self.trader = Trader(self.client, self.journal, self.bus)
        self.positions = PositionManager(self.client, self.journal, self.bus, self.trader, lambda: self.settings.risk,
                                         bot.unknown_position, timedelta(seconds=bot.unknown_position_wait_seconds),
                                         fee_rate=self.gate.fee_rate)
        self.positions.entry_wait_s = self.cfg.execution.reprice_window_s
        self.desk = ConfirmationDesk(bot=bot, journal=self.journal, bus=self.bus, client=self.client, market=self.market,
                                     gate=self.gate, settings=self.settings, trader=self.trader, locks=self.locks,
                                     clock=self.clock)
        self.applier = SettingsApplier(settings=self.settings, client=self.client, journal=self.journal,
                                       market=self.market, locks=self.locks, symbols=list(bot.symbols))
        self.last_ticks: dict[str, TickStatus] = {}
        # symbol → why its last signal was refused by the sizing (fees, minimum order): /status shows it, so a
        # bot that never trades says why even with signal alerts switched off
        self.refusals: dict[str, str] = {}
        self._failing: dict[str, type[Exception]] = {}  # symbol → what its last tick failed with (traceback logged)
        self._last_reconcile: datetime | None = None
        self.started = False

    # ------------------------------------------------------------------ what the engine itself knows

    def last_tick_at(self) -> datetime | None:
        """The wall time of the newest successful tick (any symbol); None before the first."""
        return max((t.time for t in self.last_ticks.values() if t.ok), default=None)

    # ------------------------------------------------------------------ settings changed from the chat

    async def pause(self, by: str = "", origin: str | None = None) -> Outcome:
        """``origin``: the chat that asked (it gets the reply, so the alert skips it)."""
        if self.settings.paused:
            return Outcome(OS.NOOP, "Already paused: no new entries. Open positions keep their TP/SL.")
        await self.settings.set_paused(True)
        await self.bus.emit(Lifecycle(f"Paused{f' by {by}' if by else ''}: no new entries; open positions keep "
                                      "their exchange TP/SL and are still managed.", origin))
        return Outcome(OS.OK, "Paused. No new entries; open positions keep their TP/SL and are still managed.")

    async def resume(self, by: str = "", origin: str | None = None) -> Outcome:
        was = self.settings.paused
        await self.settings.set_paused(False)
        await self.settings.reset_losses()
        if was:
            await self.bus.emit(Lifecycle(f"Resumed{f' by {by}' if by else ''}: new entries allowed.", origin))
        return Outcome(OS.OK if was else OS.NOOP, "Resumed: new entries allowed." if was else "Already running.")

    async def set_mode(self, mode: TradeMode) -> Outcome:
        await self.settings.set_mode(mode)  # raises ValueError for anything but auto/confirm
        return Outcome(OS.OK, f"Mode set to {mode}.")

    async def set_risk(self, pct: Decimal) -> Outcome:
        kept = await self.settings.set_risk_pct(pct)  # ValueError with the allowed range: nothing is kept
        return Outcome(OS.OK, f"Risk per trade set to {format_decimal(kept)}% of the available balance: what a "
                              "stop-out loses, after fees.")

    # ------------------------------------------------------------------ start and reconcile

    async def start(self) -> None:
        """Read the saved settings, check the account, load instrument rules, set leverage, reconcile the journal
        with the exchange."""
        await self.settings.load()
        account = await check_account(self.client, self.cfg.bot.symbols, self.cfg.risk.taker_fee_rate)
        self.gate.account = account
        if account.refusal:
            await self.bus.emit(ErrorEvent(f"{account.refusal}. Open positions are still managed; restart the "
                                           "bot after changing the setting.", critical=True))
        else:
            await self.bus.emit(Lifecycle(account.summary))
        for symbol in self.cfg.bot.symbols:
            inst = await self.market.instrument(symbol)
            lev = inst.leverage(self.settings.risk.leverage)
            try:
                await self.client.set_leverage(symbol, lev)
            except ExchangeError as exc:
                await self.bus.emit(ErrorEvent(f"{symbol}: could not set leverage {lev}: {exc}", symbol))
        started_at = self.clock()
        await self.reconcile()
        await self.desk.settle_interrupted(started_at)
        self.started = True

    async def reconcile(self) -> None:
        """Journal vs exchange. Entries are settled under the entry lock, so an entry in flight is never taken for a
        lost one; then each trade found flat is journaled under its symbol's lock (after the entry lock is let go:
        a tick takes the symbol's lock first), read again there, so a stop a tick moved meanwhile names the close."""
        async with self.locks.entry:
            flat = await self.positions.reconcile(self.market.instruments, self.market.atrs, self.market.now_for())
            self._last_reconcile = self.clock()
        for symbol, trade_id in flat:
            await self.journal_close(symbol, trade_id)

    async def _unresolved_entries(self) -> bool:
        return bool(await self.journal.trades.unresolved_entries())

    async def _reconcile_if_due(self, wall: datetime) -> None:
        """Every reconcile_minutes, and at once while an entry's outcome is unknown: position sync would otherwise
        adopt its fill as an "unknown position"."""
        due = self._last_reconcile and wall - self._last_reconcile >= timedelta(minutes=self.cfg.bot.reconcile_minutes)
        if due or await self._unresolved_entries():
            await self.reconcile()

    # ------------------------------------------------------------------ the tick

    async def tick(self, symbol: str) -> TickStatus:
        """One trading step for ``symbol``; never raises (errors become an event and the next tick runs)."""
        try:
            status = await self._tick(symbol)
        except Exception as exc:  # one symbol's failure never stops the others or the next tick
            if self._failing.get(symbol) is type(exc):  # (the journal down: every tick) the traceback was logged
                log.error("tick %s failed again: %s: %s", symbol, type(exc).__name__, (str(exc).splitlines() or [""])[0])
            else:
                log.exception("tick %s failed", symbol)
            self._failing[symbol] = type(exc)
            status = TickStatus(self.clock(), False, error=str(exc))
            await self.bus.emit(ErrorEvent(f"{symbol}: tick failed: {exc}", symbol))
        else:
            self._failing.pop(symbol, None)
        self.last_ticks[symbol] = status
        return status

    async def _tick(self, symbol: str) -> TickStatus:
        if not self.started:
            await self.start()
        wall = self.clock()
        await self._reconcile_if_due(wall)
        await self.desk.expire()
        async with self.locks.symbol(symbol):
            snap = await self.market.snapshot(symbol)
            await self.gate.mark_day(self.market.now_for(symbol))  # the day's first tick: its starting equity
            signal = snap.signal
            self.market.remember(signal)
            await self._manage_position(symbol, snap)
            if await self.settings.new_bar(symbol, signal.time):
                signal_id = await self._journal_signal(symbol, signal)
                if signal.action != "HOLD":
                    await self._consider_entry(symbol, signal, snap.price, signal_id)
        return TickStatus(wall, True, signal.score, signal.action, signal.time)  # wall: when it ran (health)

    async def _manage_position(self, symbol: str, snap: Snapshot) -> None:
        await self.positions.sync(symbol, inst=self.market.instruments[symbol], last_price=snap.price,
                                  bar_high=snap.bar_high, bar_low=snap.bar_low, atr=snap.signal.atr,
                                  now=self.market.now_for(symbol), bar_start=snap.bar_start)

    async def _journal_signal(self, symbol: str, signal: Signal) -> int | None:
        return await self.journal.signals.record(symbol=symbol, time=signal.time, price=signal.price,
                                                 action=signal.action, score=signal.score,
                                                 threshold=signal.threshold, atr=signal.atr,
                                                 breakdown=signal.to_dict(), now=self.market.now_for(symbol))

    async def signal_now(self, symbol: str) -> Signal:
        """The signal for ``symbol`` computed now from the exchange (for /signal); trades nothing."""
        async with self.locks.symbol(symbol):
            return (await self.market.snapshot(symbol)).signal

    # ------------------------------------------------------------------ entries

    async def _consider_entry(self, symbol: str, signal: Signal, price: Decimal, signal_id: int | None) -> None:
        now = self.market.now_for(symbol)
        side = Side.of_action(signal.action)
        available = await self.gate.available(now)
        block = await self.gate.block(symbol, now) or await self.desk.waiting(symbol)
        if block is not None:  # the signal's message says why no card follows (one message, not a log line)
            log.info("%s %s signal not traded: %s", symbol, signal.action, block)
            await self.bus.emit(SignalEvent(signal, not_traded=block.text))
            await self._maybe_protection_alert(block, now)
            return
        inst = self.market.instruments[symbol]
        fees = self.gate.sizing_fees(symbol)
        sizing = size_position(side=side, entry_price=price, atr=signal.atr, available_balance=available,
                               inst=inst, params=self.settings.risk, fee_rate=fees.stop, entry_fee_rate=fees.entry,
                               tp_fee_rate=fees.tp)
        if not sizing.ok:
            why = sizing.refused or "refused by sizing"
            self.refusals[symbol] = f"{signal.action} signal of the {signal.time:%H:%M} UTC bar: {why}"
            await self.bus.emit(SignalEvent(signal, not_traded=why))
            if signal_id is not None:
                await self.journal.signals.not_traded(signal_id, sizing.refused or "refused")
            return
        self.refusals.pop(symbol, None)
        await self.bus.emit(SignalEvent(signal))
        if self.settings.mode == TradeMode.AUTO:
            root = f"a{symbol}{int(signal.time.timestamp())}"
            async with self.locks.entry:
                if await self.gate.block(symbol, now) is not None:
                    return
                fallback = taker_qty(sizing.qty, sizing.risk_usdt, sizing.entry_price, fees.entry, fees.stop, inst,
                                     max_fee_share=self.settings.risk.max_fee_share)
                await self.trader.enter(symbol=symbol, side=side, qty=sizing.qty, sl=sizing.sl, tp=sizing.tp,
                                        atr=signal.atr, inst=inst, risk=self.settings.risk, link_root=root,
                                        signal_id=signal_id, execution=self.cfg.execution, fallback_qty=fallback)
            return
        await self.desk.ask(symbol, signal, sizing, signal_id, self.clock())

    async def _maybe_protection_alert(self, block: EntryBlock, now: datetime) -> None:
        if block.alerts and await self.settings.first_alert_today(now.date(), block.text):
            await self.bus.emit(ProtectionTripped(block.text, None))

    # ------------------------------------------------------------------ manual actions

    async def close(self, symbol: str) -> Outcome:
        async with self.locks.symbol(symbol):
            text = await self.trader.close(symbol, reason=CloseReason.MANUAL)
            await self.positions.record_close_if_flat(symbol)
        return Outcome(OS.OK, text)

    async def close_all(self) -> Outcome:
        found = await self.client.positions()
        if not found:
            return Outcome(OS.NOOP, "No open positions.")
        texts = [(await self.close(p.symbol)).text for p in found]
        return Outcome(OS.OK, "\n".join(texts))

    async def journal_close(self, symbol: str, trade_id: int | None) -> bool:
        """A close the stream reported: journal trade ``trade_id`` (None: the open one) once the exchange is flat and
        shows its closed PnL.
        True when nothing is left to do (journaled, journaled meanwhile by a tick, or not flat).

        The trade is read again under the symbol's lock: a tick may have moved its stop (break-even, trailing) while
        the stream's report waited, and the close is named by the stop it really hit."""
        async with self.locks.symbol(symbol):
            trade = await self.journal.trades.open_for(symbol)
            if trade is None or (trade_id is not None and trade.id != trade_id):
                return True  # a tick journaled it meanwhile (None: whichever trade is open)
            if await self.client.positions(symbol):
                return True  # not flat (any more): nothing to close
            return await self.positions.record_close(trade)

    async def decide_unknown(self, symbol: str, decision: UnknownDecision, size: Decimal | None = None) -> Outcome:
        """Adopt / close / ignore an unknown position from its card. ``size``: the card's; under the symbol's lock
        (a tick applies the default under it too) the card must still be current: the same size, undecided."""
        async with self.locks.symbol(symbol):
            if size is not None:
                seen = await self.journal.state.unknown(symbol)
                if seen is None or seen.size != size:
                    return Outcome(OS.STALE, f"This card is out of date: the {symbol} position changed since "
                                             f"(see the newest card, or /close {symbol}).")
                if seen.decision is not None:
                    return Outcome(OS.ALREADY, f"Already decided: {seen.decision} (the default). Nobody answered "
                                               f"in time; to close it now: /close {symbol}.")
            inst = self.market.instruments.get(symbol) or await self.client.instrument(symbol)
            text = await self.positions.decide_unknown(symbol, decision, inst=inst, atr=self.market.atrs.get(symbol, ZERO))
        return Outcome(OS.OK, text)
