"""What chat commands may do: read-only views and user actions over the engine/journal; raises UserError."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import ValidationError

from storage.journal import Journal
from storage.stats import PERIODS, period_bounds
from tradebot.backtest.remote import BacktestReport, backtest_recent
from tradebot.bybit.account_models import Position
from tradebot.bybit.client import BybitClient
from tradebot.bybit.hosts import network_of
from tradebot.care.maker_entry import limit_take_profit_price
from tradebot.chat.heavy import HeavyQueue
from tradebot.chat.manual import ManualDesk
from tradebot.chat.reports import ReportSource
from tradebot.chat.tokens import DECIDED_KEEP, CardData, CardTokens, ClaimStatus
from tradebot.chat.views import (
    CardLevels,
    ChartData,
    Overview,
    PnLView,
    PositionView,
    StatusView,
    SymbolStatus,
    TradeView,
    trailing_state,
)
from tradebot.chat.watchlist import WatchList
from tradebot.errors import ArgumentError, ExchangeError, UserError, no_position
from tradebot.events import Health
from tradebot.intents import UNKNOWN_DECISIONS, ButtonAction, UnknownDecision
from tradebot.market import frame_from_rows
from tradebot.money import ZERO
from tradebot.outcome import Outcome
from tradebot.parsing import WHOLE_RE, decimal, shown
from tradebot.settings.config import INTERVALS, Config
from tradebot.settings.overrides import apply_changes, current_value
from tradebot.sizing.instruments import round_price
from tradebot.sizing.risk import RiskParams, cross_liquidation_price, maintenance_margin
from tradebot.states import ConfirmationStatus, TradeMode
from tradebot.strategy.signal import Signal
from tradebot.tick.desk import ConfirmationDesk
from tradebot.tick.engine import TradingEngine
from tradebot.tick.streams import StreamRunner, describe
from tradebot.timeutil import datetime_to_ms, utcnow

SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}USDT$")
TOKEN_TTL = timedelta(minutes=10)
CHART_CANDLES, CHART_MAX = 150, 1000  # candles drawn; Bybit's most per kline request
BACKTEST_FALLBACK_BALANCE = Decimal(10000)  # a chat /backtest on an empty account
PROPOSAL_TTL = timedelta(days=7)  # how long an /optimize result's Apply button works
PROPOSAL = "proposal"  # the journal's kind of pending action for an /optimize result (cards: tradebot/chat/tokens.py)
ENV_LABELS = {"paper": "paper (in-process simulator, no real orders)", "testnet": "Bybit TESTNET",
              "demo": "Bybit demo trading", "mainnet": "Bybit MAINNET — real money"}


def env_label(cfg: Config) -> str:
    """The exchange in words, for every startup line and /status: a base URL on Bybit's mainnet is MAINNET."""
    env = cfg.exchange_env
    if cfg.demo:
        return "offline demo (simulator replaying bundled candles)"
    if env in ENV_LABELS:
        return ENV_LABELS[env]
    network = network_of(env)
    return f"{ENV_LABELS[network]} ({env})" if network is not None else f"custom Bybit endpoint {env}"


def parse_symbol(raw: str | None) -> str:
    symbol = (raw or "").strip().upper()
    if symbol and not symbol.endswith("USDT") and SYMBOL_RE.match(symbol + "USDT"):
        symbol += "USDT"
    if not SYMBOL_RE.match(symbol):
        raise ArgumentError(f"{shown(raw or '')} is not a symbol.")
    return symbol


def parse_interval(raw: str) -> str:
    """A chart interval as a trader writes it (15, 15m, 1h, 4h, D, 1d) → Bybit's (15, 60, 240, D)."""
    text = raw.strip().lower()
    if text in ("d", "1d"):
        return "D"
    minutes = text.removesuffix("m")
    if text.endswith("h") and WHOLE_RE.fullmatch(text[:-1]):  # ASCII digits only ("²h" is not 2h)
        minutes = str(int(text[:-1]) * 60)
    if minutes not in INTERVALS:
        raise ArgumentError(f"{shown(raw)} is not an interval.")
    return minutes


def parse_decimal(raw: str) -> Decimal:
    """ASCII digits only: ``Decimal()`` alone would read "١٠" and "1_0" as 10."""
    try:
        return decimal(raw.strip().removesuffix("%"))
    except ValueError:
        raise ArgumentError(f"{shown(raw)} is not a number.") from None


@dataclass(frozen=True, slots=True)
class Proposal:
    """An /optimize result kept for its Apply button: the symbol it was run on, the setting changes (dotted path →
    value) and, when it lost money, the loss it showed."""

    symbol: str
    changes: dict[str, object]
    warning: str | None


class BotService:
    """Facade the Telegram handlers call; holds no Telegram types."""

    def __init__(self, cfg: Config, engine: TradingEngine, client: BybitClient, journal: Journal,
                 clock: Callable[[], datetime]) -> None:
        self.cfg, self.engine, self.client, self.journal, self.clock = cfg, engine, client, journal, clock
        self.market_note: Callable[[], str | None] | None = None  # set by --demo: where the replay is
        self.streams: StreamRunner | None = None  # set by the app when the WebSocket streams run
        self.tokens = CardTokens(journal, clock)  # a card's buttons decided once: handlers claim and look here
        self.manual = ManualDesk(engine)  # /long, /short, partial /close, /sl, /tp
        self.watch = WatchList(engine)  # /symbols
        self.reports = ReportSource(engine)  # /pnl daily|weekly|monthly, /performance
        self.heavy = HeavyQueue(cfg.bot.heavy_workers, cfg.bot.heavy_queue)  # /backtest, /optimize, /chart

    @property
    def desk(self) -> ConfirmationDesk:
        """Approve / Reject: handlers go to the desk that decides, not through forwards."""
        return self.engine.desk

    # ------------------------------------------------------------------ views

    def overview(self) -> Overview:
        return Overview(env_label(self.cfg), list(self.cfg.bot.symbols), self.cfg.bot.interval, self.engine.settings.mode,
                        self.engine.settings.paused, self.engine.settings.risk.risk_pct)

    async def status(self) -> StatusView:
        now = self.clock()
        rows, protections = [], []
        for symbol in self.cfg.bot.symbols:
            tick = self.engine.last_ticks.get(symbol)
            sig = self.engine.market.last_signals.get(symbol)
            block = await self.engine.gate.block(symbol, now)
            if block is not None and block.is_protection and block.text not in protections:
                protections.append(block.text)
            rows.append(SymbolStatus(symbol, tick.time if tick else None, tick.ok if tick else None,
                                     tick.score if tick else None, sig.threshold if sig else None,
                                     tick.action if tick else None, tick.error if tick else None,
                                     block.text if block else None, self.engine.refusals.get(symbol)))
        try:
            n_open = len(await self.client.positions())
        except ExchangeError:
            n_open = -1
        note = self.market_note() if self.market_note is not None else None
        streams = [describe(st) for st in self.streams.statuses()] if self.streams is not None else []
        return StatusView(self.overview(), rows, n_open, (await self.pnl("today")).summary, protections, note,
                          streams)

    async def positions(self) -> list[PositionView]:
        positions = [p for p in await self.client.positions() if p.is_open]
        equity = None
        if any(p.liq_price is None for p in positions):
            try:
                equity = (await self.client.wallet()).total_equity
            except ExchangeError:
                equity = None
        out = []
        for p in positions:
            trade = await self.journal.trades.open_for(p.symbol)
            notional = p.avg_price * p.size
            margin = (p.position_value or notional) / p.leverage if p.leverage > 0 else None
            liq, source = p.liq_price, "exchange"
            if liq is None:
                liq, source = self._liq_estimate(p, equity, [o for o in positions if o.symbol != p.symbol]), "estimate"
            tp = p.take_profit if p.take_profit is not None else await limit_take_profit_price(self.client, p.symbol)
            out.append(PositionView(p.symbol, p.held, p.size, p.avg_price, p.mark_price, p.unrealised_pnl,
                                    p.unrealised_pnl / notional * 100 if notional else None, p.stop_loss,
                                    tp, liq, p.leverage, trailing_state(p, trade),
                                    trade is not None, source, margin,
                                    p.unrealised_pnl / margin * 100 if margin else None))
        return out

    def _liq_estimate(self, p: Position, equity: Decimal | None, others: list[Position]) -> Decimal | None:
        """The same cross-margin estimate as the card's, from the equity now at the mark (0: none)."""
        if equity is None:
            return None
        liq = cross_liquidation_price(p.held, p.mark_price or p.avg_price, p.size, equity,
                                      other_maintenance=maintenance_margin(others))
        if liq is None:
            return ZERO
        inst = self.engine.market.instruments.get(p.symbol)
        return round_price(liq, inst, "nearest") if inst is not None else liq.quantize(Decimal("0.01"))

    def last_tick_times(self) -> dict[str, datetime | None]:
        """When each traded symbol's last tick ran (None: not yet), for the health check."""
        return {s: (t.time if (t := self.engine.last_ticks.get(s)) else None) for s in self.cfg.bot.symbols}

    async def alert_health(self, text: str) -> None:
        """A health problem (or its recovery) for the chats, through the core's event bus like every alert."""
        await self.engine.bus.emit(Health(text))

    async def pnl(self, period: str = "today") -> PnLView:
        key = (period or "today").strip().lower()
        if key not in PERIODS:
            raise ArgumentError(f"{shown(period)} is not a period.")
        since, until = period_bounds(key, self.clock())
        return PnLView(key, await self.journal.trades.pnl(since, until + timedelta(microseconds=1)))

    async def trades(self, n: int) -> list[TradeView]:
        if not 1 <= n <= 100:
            raise ArgumentError(f"{n} trades is out of range.")
        return [TradeView.of(t) for t in await self.journal.trades.closed(limit=n)]

    async def signal(self, symbol: str) -> Signal:
        """The live strategy's signal on the latest closed candle, computed now."""
        symbol = parse_symbol(symbol)
        try:
            sig = await self.engine.signal_now(symbol)
        except ExchangeError as exc:
            raise UserError(f"Could not compute {symbol}: {exc}") from exc
        return sig

    async def chart_data(self, symbol: str, interval: str | None) -> ChartData:
        symbol = parse_symbol(symbol)
        interval = parse_interval(interval) if interval else self.cfg.bot.interval
        p = self.engine.settings.strategy  # what the engine trades: the config with /optimize's applied settings
        warmup = min(CHART_MAX - CHART_CANDLES, max(4 * max(p.ema.fast, p.ema.slow), p.bbands.period))
        try:  # enough history before the first candle shown that the EMAs and bands are settled there
            klines = await self.client.klines(symbol, interval, limit=CHART_CANDLES + warmup)
            found = await self.client.positions(symbol)
        except ExchangeError as exc:
            raise UserError(f"Could not load {symbol} candles: {exc}") from exc
        if len(klines) < 2:
            raise UserError(f"Not enough {symbol} candles to draw.")
        frame = frame_from_rows(k.as_row() for k in klines)
        shown = min(CHART_CANDLES, len(frame))
        start = frame.index[-shown].to_pydatetime()
        trades, cards = await self.journal.trades.chart(symbol, start)
        pos = found[0] if found else None
        if pos is not None and pos.take_profit is None:  # a maker-first trade's TP is a limit order: drawn too
            pos = replace(pos, take_profit=await limit_take_profit_price(self.client, symbol))
        return ChartData(symbol, interval, frame, [TradeView.of(t) for t in trades], pos, shown,
                         [CardLevels.of(c) for c in cards], p)

    # ------------------------------------------------------------------ actions

    async def set_mode(self, raw: str) -> Outcome:
        word = raw.strip().lower()
        if word not in tuple(TradeMode):
            raise ArgumentError(f"{shown(raw)} is not a mode.")
        return await self.engine.set_mode(TradeMode(word))

    def backtest_settings(self) -> tuple[RiskParams, str]:
        """The live risk settings a chat /backtest should use (``/risk`` persisted in the journal), and a line
        saying where they came from."""
        risk, mode = self.engine.settings.risk, self.engine.settings.mode
        source = "live settings"
        if risk.risk_pct != self.cfg.risk.risk_pct:
            source += f" (/risk {risk.risk_pct}%, config {self.cfg.risk.risk_pct}%)"
        applied = self.engine.settings.applied()
        if applied:
            source += f"; {len(applied)} setting(s) applied from /optimize: " + ", ".join(
                f"{k} {v}" for k, v in sorted(applied.items()))
        if mode != TradeMode.AUTO:
            source += f"; live mode {mode}: the backtest takes every signal, as auto mode would"
        return risk, source

    async def backtest(self, symbol: str, days: int) -> BacktestReport:
        """A backtest of the live strategy and risk settings over the last ``days`` up to the market time now, from
        the account's equity (10 000 USDT when the account is empty)."""
        wallet = await self.client.wallet()
        balance = wallet.total_equity if wallet.total_equity > 0 else BACKTEST_FALLBACK_BALANCE
        end_ms = datetime_to_ms(self.engine.market.now_for(symbol))
        risk, source = self.backtest_settings()
        live = replace(self.cfg, file=self.cfg.file.model_copy(update={"strategy": self.engine.settings.strategy}))
        return await backtest_recent(self.client, live, symbol, days, end_ms, balance, risk=risk, source=source,
                                     cpu=self.heavy.cpu)

    async def set_risk(self, raw: str) -> Outcome:
        value = parse_decimal(raw)
        try:
            return await self.engine.set_risk(value)
        except ValueError as exc:  # out of range, or more decimals than the journal keeps: nothing is kept
            raise ArgumentError(f"{exc}.") from None

    async def request_close(self, symbol: str, chat: int | None = None) -> tuple[str, Position]:
        """The ask's token (its Close and Cancel, in the asking ``chat`` only) and the position it would close."""
        symbol = parse_symbol(symbol)
        found = await self.client.positions(symbol)
        if not found:
            raise UserError(no_position(symbol, await self.journal.cards.entering(symbol)))
        return await self.tokens.issue([ButtonAction.CLOSE, ButtonAction.CANCEL], TOKEN_TTL, _chats(chat),
                                       CardData(symbol=symbol)), found[0]

    async def request_stop_all(self, chat: int | None = None) -> tuple[str, list[Position]]:
        token = await self.tokens.issue([ButtonAction.STOP_ALL, ButtonAction.CANCEL], TOKEN_TTL, _chats(chat))
        return token, await self.client.positions()

    async def unknown_card(self, symbol: str, size: Decimal, chats: list[int]) -> str:
        """The token of an unknown-position card (Adopt / Close / Ignore) sent to ``chats``: it lives past the
        default's deadline, so a late tap hears what was decided."""
        ttl = timedelta(seconds=self.cfg.bot.unknown_position_wait_seconds) + DECIDED_KEEP
        return await self.tokens.issue(list(UNKNOWN_DECISIONS), ttl, chats, CardData(symbol=symbol, size=size),
                                       subject=f"uk:{symbol}")

    async def unknown_defaulted(self, symbol: str, decision: UnknownDecision) -> str | None:
        """The default was applied to ``symbol``'s unknown position: its card is decided ("by the default"); the
        card's token when this decided it (its copies are then edited), None when a tap had (or there is none)."""
        action = next(a for a, d in UNKNOWN_DECISIONS.items() if d == decision)
        found = await self.tokens.decide_subject(f"uk:{symbol}", action, by="the default", note=(
            f"Nobody answered in time; to close it now: /close {symbol}." if decision is not UnknownDecision.CLOSE
            else ""))
        return found[0] if found is not None and found[1].status is ClaimStatus.WON else None

    async def card_open(self, conf_id: str) -> bool:
        """True while a confirmation card still waits for Approve or Reject."""
        card = await self.journal.cards.get(conf_id)
        return card is not None and card.status == ConfirmationStatus.PENDING

    async def stop_all(self, by: str, origin: str | None = None) -> Outcome:
        await self.engine.pause(by, origin)
        out = await self.engine.close_all()
        return Outcome(out.status, f"Paused. {out.text}")

    async def decide_unknown(self, symbol: str, decision: UnknownDecision, size: Decimal | None = None) -> Outcome:
        """``decision``: adopt, close or ignore an unknown position; ``size``: the one its card showed (the card
        must still be current and undecided)."""
        if decision not in tuple(UnknownDecision):
            raise UserError("Unknown choice.")
        return await self.engine.decide_unknown(parse_symbol(symbol), UnknownDecision(decision), size)

    # ------------------------------------------------------------------ /optimize → Apply

    async def save_proposal(self, symbol: str, changes: dict[str, object], warning: str | None = None) -> str:
        """Keep an optimize result's setting changes (for its Apply button) for PROPOSAL_TTL; returns its id.
        ``warning``: the result lost money (its Apply asks twice)."""
        pid = secrets.token_urlsafe(8)
        await self.journal.state.put_action(PROPOSAL, pid, {"symbol": symbol, "changes": changes, "warning": warning},
                                            self.clock() + PROPOSAL_TTL)
        return pid

    async def proposal(self, pid: str) -> Proposal:
        """A saved optimize result: its setting ``changes`` and ``warning`` (the loss it showed; None: it made
        money)."""
        found = await self.journal.state.peek_action(PROPOSAL, pid, self.clock())
        if found is None:
            raise UserError("This optimize result has expired; run /optimize again.")
        changes, warning = found.get("changes"), found.get("warning")
        return Proposal(str(found.get("symbol") or ""), dict(changes) if isinstance(changes, dict) else {},
                        None if warning is None else str(warning))

    def setting_diff(self, changes: dict[str, object]) -> list[tuple[str, object, object]]:
        """(path, live value, proposed value) for every proposed change that differs from the live settings."""
        risk, strategy = self.engine.settings.risk, self.engine.settings.strategy
        try:
            new_risk, new_strategy = apply_changes(risk, strategy, changes)
        except (ValidationError, KeyError) as exc:
            raise UserError(f"These settings no longer fit the live config: {exc}") from None
        pairs = ((p, current_value(p, risk, strategy), current_value(p, new_risk, new_strategy)) for p in changes)
        return [(path, old, new) for path, old, new in pairs if old != new]

    async def apply_settings(self, changes: dict[str, object], by: str) -> Outcome:
        try:
            return await self.engine.applier.apply(changes, by)
        except (ValidationError, KeyError) as exc:
            raise UserError(f"Not applied: {exc}") from None

    # ------------------------------------------------------------------ button tokens & audit

    async def apply_token(self, proposal_id: str, chat: int | None, step: int = 0) -> str:
        """The token of an /optimize Apply card (its Apply and Cancel, in ``chat`` only): the proposal it applies
        lives in the journal, not in the button. ``step`` 1: the first of a losing result's two questions."""
        return await self.tokens.issue([ButtonAction.OPTIMIZE_APPLY, ButtonAction.CANCEL], TOKEN_TTL, _chats(chat),
                                       CardData(proposal=proposal_id, step=step))

    async def audit(self, *, kind: str, action: str, allowed: bool, user_id: int | None, chat_id: int | None,
                    args: str | None = None, result: str | None = None) -> None:
        await self.journal.ops.audit(kind=kind[:16], action=action[:64], allowed=allowed, user_id=user_id,
                                     chat_id=chat_id, args=args, result=(result or "")[:500], now=utcnow())


def _chats(chat: int | None) -> list[int] | None:
    return None if chat is None else [chat]

