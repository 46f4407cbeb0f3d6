"""TradingEngine: per-symbol tick (candles → Signal → manage position → confirm/enter), confirmations, pause state."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
from sqlalchemy.engine import Engine

from storage import repo
from storage.db import session_scope
from storage.runtime import get_state, set_state
from storage.trades import closed_trades, get_open_trade, open_trades
from tradebot.account import AccountCheck, check_account
from tradebot.bybit.client import BybitClient
from tradebot.config import Config
from tradebot.confirmations import ConfirmationsMixin, Outcome
from tradebot.errors import ExchangeError
from tradebot.events import (
    ErrorEvent,
    EventBus,
    Lifecycle,
    ProtectionTripped,
    SignalEvent,
)
from tradebot.instruments import Instrument
from tradebot.market import frame_from_rows, interval_ms
from tradebot.overrides import apply_changes
from tradebot.positions import PositionManager
from tradebot.protections import ClosedTradeView, protection_state
from tradebot.risk import RiskParams, size_position
from tradebot.strategy import Signal, StrategyParams, compute_signal
from tradebot.trader import Trader

log = logging.getLogger("tradebot.engine")
ZERO = Decimal(0)
SIDE = {"BUY": "Buy", "SELL": "Sell"}
SETTINGS_KEY = "settings_override"  # bot state: {dotted path: value} applied from the chat


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TickStatus:
    time: datetime
    ok: bool
    score: float | None = None
    action: str | None = None
    bar_time: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """What one tick reads from the exchange: the signal, the current price and the last closed bar."""

    signal: Signal
    price: Decimal
    bar_high: Decimal
    bar_low: Decimal
    bar_start: datetime


@dataclass
class TradingEngine(ConfirmationsMixin):
    """Owns the trading loop state. One instance per process; every exchange call goes through ``client``."""

    cfg: Config
    client: BybitClient
    db: Engine
    bus: EventBus = field(default_factory=EventBus)
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        self.trader = Trader(self.client, self.db, self.bus)
        self.positions = PositionManager(self.client, self.db, self.bus, self.trader, lambda: self.risk,
                                         self.cfg.bot.unknown_position,
                                         timedelta(seconds=self.cfg.bot.unknown_position_wait_seconds))
        self.instruments: dict[str, Instrument] = {}
        self.last_ticks: dict[str, TickStatus] = {}
        self.atrs: dict[str, Decimal] = {}
        self.last_signals: dict[str, Signal] = {}
        self._locks: dict[str, asyncio.Lock] = {s: asyncio.Lock() for s in self.cfg.bot.symbols}
        self._entry_lock = asyncio.Lock()
        self._last_reconcile: datetime | None = None
        self.market_now: dict[str, datetime] = {}
        self._htf_cache: dict[tuple[str, str], tuple[int, pd.DataFrame]] = {}  # → (valid until ms, closed frame)
        self.started = False
        self.entries_held: str | None = None  # a reason that holds new entries (e.g. the chat is unreachable)
        self.account = AccountCheck()  # read at start: unsupported settings stop new entries
        self._settings_cache: tuple[str, tuple[RiskParams, StrategyParams]] | None = None

    # ------------------------------------------------------------------ settings that persist

    def _state(self, key: str, default: object = None) -> object:
        with session_scope(self.db) as s:
            return get_state(session=s, key=key, default=default)

    def _set(self, key: str, value: object) -> None:
        with session_scope(self.db) as s:
            set_state(session=s, key=key, value=value, now=self.clock())

    @property
    def paused(self) -> bool:
        return bool(self._state("paused", False))

    @property
    def mode(self) -> str:
        return str(self._state("mode", self.cfg.bot.mode))

    @property
    def risk(self) -> RiskParams:
        risk = self._live_settings()[0]
        override = self._state("risk_pct")
        return risk.model_copy(update={"risk_pct": Decimal(str(override))}) if override else risk

    @property
    def strategy(self) -> StrategyParams:
        return self._live_settings()[1]

    def applied_settings(self) -> dict[str, object]:
        """The setting changes applied from the chat (dotted path → value), as kept in the journal."""
        return dict(self._state(SETTINGS_KEY) or {})  # type: ignore[call-overload]

    def _live_settings(self) -> tuple[RiskParams, StrategyParams]:
        """Config + the changes applied from chat (/optimize → Apply), kept in the journal across restarts."""
        changes = self._state(SETTINGS_KEY) or {}
        if not changes:
            return self.cfg.risk, self.cfg.strategy
        key = json.dumps(changes, sort_keys=True, default=str)
        if self._settings_cache is None or self._settings_cache[0] != key:
            try:
                self._settings_cache = (key, apply_changes(self.cfg.risk, self.cfg.strategy, changes))  # type: ignore[arg-type]
            except (ValueError, KeyError) as exc:  # the config changed under a saved change: the config wins
                log.error("saved setting changes %s no longer fit the config (%s): using the config", changes, exc)
                self._settings_cache = (key, (self.cfg.risk, self.cfg.strategy))
        return self._settings_cache[1]

    def apply_settings(self, changes: dict[str, object], by: str = "") -> Outcome:
        """Validate ``changes`` (dotted paths) against the live settings and keep them; risk_pct goes to /risk's key."""
        apply_changes(self.risk, self.strategy, changes)  # raises ValidationError/KeyError: nothing is saved
        saved = dict(self._state(SETTINGS_KEY) or {})  # type: ignore[call-overload]
        rest = {k: v for k, v in changes.items() if k != "risk.risk_pct"}
        saved.update({k: str(v) if isinstance(v, Decimal) else v for k, v in rest.items()})
        self._set(SETTINGS_KEY, saved)
        if "risk.risk_pct" in changes:
            self._set("risk_pct", str(changes["risk.risk_pct"]))
        log.info("settings changed%s: %s", f" by {by}" if by else "", changes)
        later = " Leverage changes take effect at the next start." if "risk.leverage" in changes else ""
        return Outcome("ok", f"Applied {len(changes)} setting(s); they stay in force across restarts.{later}")

    async def pause(self, by: str = "", origin: str | None = None) -> Outcome:
        """``origin``: the chat that asked (it gets the reply, so the alert skips it)."""
        if self.paused:
            return Outcome("noop", "Already paused: no new entries. Open positions keep their TP/SL.")
        self._set("paused", True)
        await self.bus.emit(Lifecycle(f"Paused{f' by {by}' if by else ''}: no new entries; open positions keep "
                                      "their exchange TP/SL and are still managed.", origin))
        return Outcome("ok", "Paused. No new entries; open positions keep their TP/SL and are still managed.")

    async def resume(self, by: str = "", origin: str | None = None) -> Outcome:
        was = self.paused
        self._set("paused", False)
        self._set("losses_reset_at", self.clock().isoformat())
        if was:
            await self.bus.emit(Lifecycle(f"Resumed{f' by {by}' if by else ''}: new entries allowed.", origin))
        return Outcome("ok" if was else "noop", "Resumed: new entries allowed." if was else "Already running.")

    def set_mode(self, mode: str) -> Outcome:
        if mode not in ("auto", "confirm"):
            raise ValueError("mode must be auto or confirm")
        self._set("mode", mode)
        return Outcome("ok", f"Mode set to {mode}.")

    def set_risk(self, pct: Decimal) -> Outcome:
        RiskParams.model_validate({**self.cfg.risk.model_dump(), "risk_pct": pct})  # raises with the allowed range
        self._set("risk_pct", str(pct))
        return Outcome("ok", f"Risk per trade set to {pct}% of the available balance: what a stop-out loses, after fees.")

    # ------------------------------------------------------------------ start and reconcile

    async def start(self) -> None:
        """Check the account, load instrument rules, set leverage, reconcile the journal with the exchange."""
        self.account = await check_account(self.client, self.cfg.bot.symbols, self.cfg.risk.taker_fee_rate)
        if self.account.refusal:
            await self.bus.emit(ErrorEvent(f"{self.account.refusal}. Open positions are still managed; restart the "
                                           "bot after changing the setting.", critical=True))
        else:
            await self.bus.emit(Lifecycle(self.account.summary))
        for symbol in self.cfg.bot.symbols:
            self.instruments[symbol] = await self.client.instrument(symbol)
            lev = min(self.risk.leverage, self.instruments[symbol].max_leverage)
            try:
                await self.client.set_leverage(symbol, lev)
            except ExchangeError as exc:
                await self.bus.emit(ErrorEvent(f"{symbol}: could not set leverage {lev}: {exc}", symbol))
        started_at = self.clock()
        await self.reconcile()
        await self._settle_interrupted(started_at)
        self.started = True

    def _unresolved_entries(self) -> bool:
        with session_scope(self.db) as s:
            return any(o.trade_id is None for o in repo.open_orders(session=s, purpose="entry"))

    async def reconcile(self) -> None:
        await self.positions.reconcile(self.instruments, self.atrs, self.now_for())
        self._last_reconcile = self.clock()

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

    def now_for(self, symbol: str | None = None) -> datetime:
        """The exchange's market time (what trade times are stamped with); the wall clock on a live exchange."""
        if symbol and symbol in self.market_now:
            return self.market_now[symbol]
        return max(self.market_now.values(), default=None) or self.clock()

    def _observe_market_time(self, symbol: str, forming_start_ms: int) -> datetime:
        """A replayed feed (simulator, demo) runs on its own clock: follow it when it is far from the wall clock."""
        wall = self.clock()
        start = datetime.fromtimestamp(forming_start_ms / 1000, tz=UTC)
        interval = timedelta(minutes=1440 if self.cfg.bot.interval == "D" else int(self.cfg.bot.interval))
        self.market_now[symbol] = wall if abs(wall - start) <= 2 * interval else start
        return self.market_now[symbol]

    async def _tick(self, symbol: str) -> TickStatus:
        if not self.started:
            await self.start()
        wall = self.clock()
        due = self._last_reconcile and wall - self._last_reconcile >= timedelta(minutes=self.cfg.bot.reconcile_minutes)
        # An entry whose outcome is unknown is settled first: position sync would adopt its fill as an "unknown
        # position". Under the entry lock, so an entry in flight is never mistaken for a lost one.
        if due or self._unresolved_entries():
            async with self._entry_lock:
                await self.reconcile()
        await self.expire_confirmations()
        async with self._locks[symbol]:
            snap = await self._snapshot(symbol)
            signal, forming = snap.signal, snap.price
            now = self.market_now[symbol]
            self.atrs[symbol] = signal.atr
            self.last_signals[symbol] = signal
            await self.positions.sync(symbol, inst=self.instruments[symbol], last_price=forming,
                                      bar_high=snap.bar_high, bar_low=snap.bar_low, atr=signal.atr, now=now,
                                      bar_start=snap.bar_start)
            key = f"last_bar:{symbol}"
            seen = self._state(key)
            if seen is not None and seen >= signal.time.isoformat():
                return TickStatus(wall, True, signal.score, signal.action, signal.time)
            self._set(key, signal.time.isoformat())
            with session_scope(self.db) as s:
                rec = repo.record_signal(session=s, symbol=symbol, time=signal.time, price=signal.price,
                                         action=signal.action, score=signal.score, threshold=signal.threshold,
                                         atr=signal.atr, breakdown=signal.to_dict(), now=now)
                signal_id = rec.id
            if signal.action != "HOLD":
                await self.bus.emit(SignalEvent(signal))
                await self._consider_entry(symbol, signal, forming, signal_id)
        return TickStatus(wall, True, signal.score, signal.action, signal.time)  # wall: when it ran (health)

    async def signal_now(self, symbol: str) -> Signal:
        """The signal for ``symbol`` computed now from the exchange (for /signal); trades nothing."""
        async with self._locks.setdefault(symbol, asyncio.Lock()):
            return (await self._snapshot(symbol)).signal

    async def _snapshot(self, symbol: str) -> Snapshot:
        """Signal on CLOSED candles (Bybit's newest kline row is the forming one), the price and the last bar."""
        bot, params = self.cfg.bot, self.strategy
        klines = await self.client.klines(symbol, bot.interval, limit=bot.candles)
        if len(klines) < 2:
            raise ExchangeError(f"{symbol}: not enough candles from the exchange ({len(klines)})")
        forming, closed = klines[-1], klines[:-1]
        self._observe_market_time(symbol, forming.start_ms)
        df = frame_from_rows(k.as_row() for k in closed)
        htf = {}
        for h in params.higher_timeframes:
            htf[h.interval] = await self._htf_frame(symbol, h.interval, h.period, forming.start_ms)
        book = None
        if params.orderbook.enabled:
            ob = await self.client.orderbook(symbol, limit=max(params.orderbook.depth, 1))
            book = {"bids": list(ob.bids), "asks": list(ob.asks)}
        bar = closed[-1]
        return Snapshot(compute_signal(symbol, df, params, book=book, htf=htf), forming.close, bar.high, bar.low,
                        datetime.fromtimestamp(bar.start_ms / 1000, tz=UTC))

    async def _htf_frame(self, symbol: str, interval: str, period: int, now_ms: int) -> pd.DataFrame:
        """Closed higher-timeframe candles; refetched only once the forming HTF candle has closed."""
        cached = self._htf_cache.get((symbol, interval))
        if cached is not None and now_ms < cached[0]:
            return cached[1]
        rows = await self.client.klines(symbol, interval, limit=min(1000, max(3 * period, 60)))
        step = interval_ms(interval)
        valid_until = rows[-1].start_ms + step if rows and step else 0  # monthly candles: always refetch
        frame = frame_from_rows(k.as_row() for k in rows[:-1])
        self._htf_cache[(symbol, interval)] = (valid_until, frame)
        return frame

    # ------------------------------------------------------------------ entries

    def fee_rate(self, symbol: str) -> Decimal:
        """The taker rate for sizing: the exchange's fee-rate endpoint as read at start, else the config."""
        return self.account.taker_fees.get(symbol, self.risk.taker_fee_rate)

    def entry_block(self, symbol: str, now: datetime) -> str | None:
        """Why a new entry on ``symbol`` is not allowed now (None = allowed)."""
        if self.account.refusal:
            return self.account.refusal
        if self.entries_held:
            return self.entries_held
        if self.paused:
            return "the bot is paused (/resume to allow entries)"
        with session_scope(self.db) as s:
            if get_open_trade(session=s, symbol=symbol) is not None:
                return f"a {symbol} position is already open"
            n_open = len(open_trades(session=s))
            recent = [ClosedTradeView(t.symbol, t.exit_time, t.pnl or ZERO)
                      for t in closed_trades(session=s, since=now - timedelta(days=7))
                      if t.exit_time is not None]
            day_start = get_state(session=s, key=f"day_start:{now.date().isoformat()}")
        if n_open >= self.risk.max_open_positions:
            return f"max open positions reached ({n_open}/{self.risk.max_open_positions})"
        reset = self._state("losses_reset_at")
        prot = protection_state(recent, symbol=symbol, now=now,
                                balance_start_of_day=Decimal(str(day_start)) if day_start else ZERO,
                                params=self.risk, open_positions=n_open,
                                losses_reset_at=datetime.fromisoformat(str(reset)) if reset else None)
        if not prot.entries_allowed:
            return "; ".join(prot.reasons)
        return None

    async def _balance(self, now: datetime) -> tuple[Decimal, Decimal]:
        wallet = await self.client.wallet()
        key = f"day_start:{now.date().isoformat()}"
        if self._state(key) is None:
            self._set(key, str(wallet.total_equity or wallet.wallet_balance))
        return wallet.available, wallet.total_equity

    async def _consider_entry(self, symbol: str, signal: Signal, price: Decimal, signal_id: int | None) -> None:
        now = self.now_for(symbol)
        side = SIDE[signal.action]
        available, _ = await self._balance(now)  # also records the day's starting equity for the loss limit
        block = self.entry_block(symbol, now)
        if block is None:
            with session_scope(self.db) as s:
                if repo.pending_confirmations(session=s, symbol=symbol):
                    block = f"a {symbol} confirmation is already waiting"
        if block is not None:
            log.info("%s %s signal not traded: %s", symbol, signal.action, block)
            await self._maybe_protection_alert(block, now)
            return
        sizing = size_position(side=side, entry_price=price, atr=signal.atr, available_balance=available,  # type: ignore[arg-type]
                               inst=self.instruments[symbol], params=self.risk, fee_rate=self.fee_rate(symbol))
        if not sizing.ok:
            await self.bus.emit(ErrorEvent(f"{symbol} {signal.action} signal not traded: {sizing.refused}", symbol))
            if signal_id is not None:
                with session_scope(self.db) as s:
                    repo.note_signal(session=s, signal_id=signal_id, not_traded=sizing.refused or "refused")
            return
        if self.mode == "auto":
            root = f"a{symbol}{int(signal.time.timestamp())}"
            async with self._entry_lock:
                if self.entry_block(symbol, now) is not None:
                    return
                await self.trader.enter(symbol=symbol, side=side, qty=sizing.qty, sl=sizing.sl, tp=sizing.tp,
                                        atr=signal.atr, inst=self.instruments[symbol], risk=self.risk,
                                        link_root=root, signal_id=signal_id)
            return
        await self._ask(symbol, signal, sizing, signal_id, self.clock())

    async def _maybe_protection_alert(self, reason: str, now: datetime) -> None:
        if "paused" in reason or "already" in reason or "max open" in reason:
            return
        key = f"protection_alert:{now.date().isoformat()}:{reason[:40]}"
        if self._state(key):
            return
        self._set(key, True)
        await self.bus.emit(ProtectionTripped(reason, None))

    # ------------------------------------------------------------------ manual actions

    async def close(self, symbol: str) -> Outcome:
        async with self._locks.setdefault(symbol, asyncio.Lock()):
            text = await self.trader.close(symbol, reason="manual")
            await self.positions.record_close_if_flat(symbol)
        return Outcome("ok", text)

    async def close_all(self) -> Outcome:
        found = await self.client.positions()
        if not found:
            return Outcome("noop", "No open positions.")
        texts = [(await self.close(p.symbol)).text for p in found]
        return Outcome("ok", "\n".join(texts))

    async def decide_unknown(self, symbol: str, decision: str) -> Outcome:
        inst = self.instruments.get(symbol) or await self.client.instrument(symbol)
        text = await self.positions.decide_unknown(symbol, decision, inst=inst, atr=self.atrs.get(symbol, ZERO))
        return Outcome("ok", text)
