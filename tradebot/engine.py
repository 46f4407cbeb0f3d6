"""TradingEngine: the per-symbol tick (read market → manage position → journal signal → confirm/enter) over its parts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from storage.journal import Journal
from tradebot.account import AccountCheck, check_account
from tradebot.bybit.client import BybitClient
from tradebot.config import Config
from tradebot.desk import ConfirmationDesk
from tradebot.errors import ExchangeError
from tradebot.events import ErrorEvent, EventBus, Lifecycle, ProtectionTripped, SignalEvent
from tradebot.gate import EntryBlock, EntryGate
from tradebot.instruments import Instrument
from tradebot.locks import TradeLocks
from tradebot.money import ZERO
from tradebot.outcome import Outcome
from tradebot.positions import PositionManager
from tradebot.reader import MarketReader, Snapshot
from tradebot.risk import RiskParams, size_position
from tradebot.saved import SavedSettings
from tradebot.side import Side
from tradebot.states import CloseReason
from tradebot.states import OutcomeStatus as OS
from tradebot.strategy import Signal, StrategyParams
from tradebot.timeutil import utcnow
from tradebot.trader import Trader

log = logging.getLogger("tradebot.engine")


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
                                         bot.unknown_position, timedelta(seconds=bot.unknown_position_wait_seconds))
        self.desk = ConfirmationDesk(bot=bot, journal=self.journal, bus=self.bus, client=self.client, market=self.market,
                                     gate=self.gate, settings=self.settings, trader=self.trader, locks=self.locks,
                                     clock=self.clock)
        self.last_ticks: dict[str, TickStatus] = {}
        self._last_reconcile: datetime | None = None
        self.started = False

    # ------------------------------------------------------------------ what the parts know (read-only views)

    @property
    def instruments(self) -> dict[str, Instrument]:
        return self.market.instruments

    @property
    def atrs(self) -> dict[str, Decimal]:
        return self.market.atrs

    @property
    def last_signals(self) -> dict[str, Signal]:
        return self.market.last_signals

    @property
    def account(self) -> AccountCheck:
        return self.gate.account

    @property
    def entries_held(self) -> str | None:
        """A reason that holds new entries (e.g. the chat is unreachable); None: entries allowed."""
        return self.gate.held

    @entries_held.setter
    def entries_held(self, reason: str | None) -> None:
        self.gate.held = reason

    @property
    def paused(self) -> bool:
        return self.settings.paused

    @property
    def mode(self) -> str:
        return self.settings.mode

    @property
    def risk(self) -> RiskParams:
        return self.settings.risk

    @property
    def strategy(self) -> StrategyParams:
        return self.settings.strategy

    def applied_settings(self) -> dict[str, object]:
        """The setting changes applied from the chat (dotted path → value), as kept in the journal."""
        return self.settings.applied()

    def now_for(self, symbol: str | None = None) -> datetime:
        """The exchange's market time (what trade times are stamped with); the wall clock on a live exchange."""
        return self.market.now_for(symbol)

    def fee_rate(self, symbol: str) -> Decimal:
        return self.gate.fee_rate(symbol)

    async def entry_block(self, symbol: str, now: datetime) -> EntryBlock | None:
        """Why a new entry on ``symbol`` is not allowed now (None = allowed)."""
        return await self.gate.block(symbol, now)

    def last_tick_at(self) -> datetime | None:
        """The wall time of the newest successful tick (any symbol); None before the first."""
        return max((t.time for t in self.last_ticks.values() if t.ok), default=None)

    # ------------------------------------------------------------------ settings changed from the chat

    async def apply_settings(self, changes: dict[str, object], by: str = "") -> Outcome:
        """Validate ``changes`` (dotted paths) against the live settings and keep them across restarts."""
        await self.settings.apply(changes)  # raises ValidationError/KeyError: nothing is saved
        log.info("settings changed%s: %s", f" by {by}" if by else "", changes)
        later = " Leverage changes take effect at the next start." if "risk.leverage" in changes else ""
        return Outcome(OS.OK, f"Applied {len(changes)} setting(s); they stay in force across restarts.{later}")

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

    async def set_mode(self, mode: str) -> Outcome:
        await self.settings.set_mode(mode)  # raises ValueError for anything but auto/confirm
        return Outcome(OS.OK, f"Mode set to {mode}.")

    async def set_risk(self, pct: Decimal) -> Outcome:
        await self.settings.set_risk_pct(pct)  # raises with the allowed range
        return Outcome(OS.OK,
                       f"Risk per trade set to {pct}% of the available balance: what a stop-out loses, after fees.")

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
            lev = min(self.risk.leverage, inst.max_leverage)
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
            flat = await self.positions.reconcile(self.market.instruments, self.market.atrs, self.now_for())
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
            log.exception("tick %s failed", symbol)
            status = TickStatus(self.clock(), False, error=str(exc))
            await self.bus.emit(ErrorEvent(f"{symbol}: tick failed: {exc}", symbol))
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
            signal = snap.signal
            self.market.remember(signal)
            await self._manage_position(symbol, snap)
            if await self.settings.new_bar(symbol, signal.time):
                signal_id = await self._journal_signal(symbol, signal)
                if signal.action != "HOLD":
                    await self.bus.emit(SignalEvent(signal))
                    await self._consider_entry(symbol, signal, snap.price, signal_id)
        return TickStatus(wall, True, signal.score, signal.action, signal.time)  # wall: when it ran (health)

    async def _manage_position(self, symbol: str, snap: Snapshot) -> None:
        await self.positions.sync(symbol, inst=self.market.instruments[symbol], last_price=snap.price,
                                  bar_high=snap.bar_high, bar_low=snap.bar_low, atr=snap.signal.atr,
                                  now=self.now_for(symbol), bar_start=snap.bar_start)

    async def _journal_signal(self, symbol: str, signal: Signal) -> int | None:
        return await self.journal.signals.record(symbol=symbol, time=signal.time, price=signal.price,
                                                 action=signal.action, score=signal.score,
                                                 threshold=signal.threshold, atr=signal.atr,
                                                 breakdown=signal.to_dict(), now=self.now_for(symbol))

    async def signal_now(self, symbol: str) -> Signal:
        """The signal for ``symbol`` computed now from the exchange (for /signal); trades nothing."""
        async with self.locks.symbol(symbol):
            return (await self.market.snapshot(symbol)).signal

    # ------------------------------------------------------------------ entries

    async def _consider_entry(self, symbol: str, signal: Signal, price: Decimal, signal_id: int | None) -> None:
        now = self.now_for(symbol)
        side = Side.of_action(signal.action)
        available = await self.gate.available(now)  # also records the day's starting equity for the loss limit
        block = await self.gate.block(symbol, now) or await self.desk.waiting(symbol)
        if block is not None:
            log.info("%s %s signal not traded: %s", symbol, signal.action, block)
            await self._maybe_protection_alert(block, now)
            return
        inst = self.market.instruments[symbol]
        sizing = size_position(side=side, entry_price=price, atr=signal.atr, available_balance=available,
                               inst=inst, params=self.risk, fee_rate=self.fee_rate(symbol))
        if not sizing.ok:
            await self.bus.emit(ErrorEvent(f"{symbol} {signal.action} signal not traded: {sizing.refused}", symbol))
            if signal_id is not None:
                await self.journal.signals.not_traded(signal_id, sizing.refused or "refused")
            return
        if self.mode == "auto":
            root = f"a{symbol}{int(signal.time.timestamp())}"
            async with self.locks.entry:
                if await self.gate.block(symbol, now) is not None:
                    return
                await self.trader.enter(symbol=symbol, side=side, qty=sizing.qty, sl=sizing.sl, tp=sizing.tp,
                                        atr=signal.atr, inst=inst, risk=self.risk, link_root=root,
                                        signal_id=signal_id)
            return
        await self.desk.ask(symbol, signal, sizing, signal_id, self.clock())

    async def _maybe_protection_alert(self, block: EntryBlock, now: datetime) -> None:
        if block.alerts and await self.settings.first_alert_today(now.date(), block.text):
            await self.bus.emit(ProtectionTripped(block.text, None))

    # ------------------------------------------------------------------ confirmations (the desk)

    async def approve(self, conf_id: str, user_id: int) -> Outcome:
        return await self.desk.approve(conf_id, user_id)

    async def reject(self, conf_id: str, user_id: int) -> Outcome:
        return await self.desk.reject(conf_id, user_id)

    async def expire_confirmations(self) -> list[str]:
        return await self.desk.expire()

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

    async def journal_close(self, symbol: str, trade_id: int) -> bool:
        """A close the stream reported: journal trade ``trade_id`` once the exchange is flat and shows its closed PnL.
        True when nothing is left to do (journaled, journaled meanwhile by a tick, or not flat).

        The trade is read again under the symbol's lock: a tick may have moved its stop (break-even, trailing) while
        the stream's report waited, and the close is named by the stop it really hit."""
        async with self.locks.symbol(symbol):
            trade = await self.journal.trades.open_for(symbol)
            if trade is None or trade.id != trade_id:
                return True  # a tick journaled it meanwhile
            if await self.client.positions(symbol):
                return True  # not flat (any more): nothing to close
            return await self.positions.record_close(trade)

    async def decide_unknown(self, symbol: str, decision: str) -> Outcome:
        inst = self.market.instruments.get(symbol) or await self.client.instrument(symbol)
        text = await self.positions.decide_unknown(symbol, decision, inst=inst, atr=self.atrs.get(symbol, ZERO))
        return Outcome(OS.OK, text)
