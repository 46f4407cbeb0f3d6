"""What chat commands may do: read-only views and user actions over the engine/journal; raises UserError."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from storage.journal import Journal
from storage.models import TradeRecord
from storage.stats import PERIODS, period_bounds
from tradebot.backtest.remote import BacktestReport, backtest_recent
from tradebot.bybit.account_models import Position, Wallet
from tradebot.bybit.client import BybitClient
from tradebot.config import INTERVALS, Config
from tradebot.engine import TradingEngine
from tradebot.errors import ArgumentError, ExchangeError, UserError
from tradebot.events import Health
from tradebot.instruments import round_price
from tradebot.market import frame_from_rows
from tradebot.money import ZERO
from tradebot.outcome import Outcome
from tradebot.overrides import apply_changes, current_value
from tradebot.risk import RiskParams, cross_liquidation_price, maintenance_margin
from tradebot.side import Side
from tradebot.strategy.signal import Signal
from tradebot.streams import StreamRunner, describe
from tradebot.timeutil import datetime_to_ms, utcnow
from tradebot.views import ChartData, Overview, PnLView, PositionView, StatusView, SymbolStatus

SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}USDT$")
TOKEN_TTL = timedelta(minutes=10)
CHART_CANDLES, CHART_MAX = 150, 1000  # candles drawn; Bybit's most per kline request
BACKTEST_FALLBACK_BALANCE = Decimal(10000)  # a chat /backtest on an empty account
PROPOSAL_TTL = timedelta(days=7)  # how long an /optimize result's Apply button works
BUTTON, PROPOSAL = "button", "proposal"  # the kinds of pending button actions the journal keeps
ENV_LABELS = {"paper": "paper (in-process simulator, no real orders)", "testnet": "Bybit TESTNET",
              "demo": "Bybit demo trading", "mainnet": "Bybit MAINNET — real money"}


def env_label(cfg: Config) -> str:
    env = cfg.exchange_env
    if cfg.demo:
        return "offline demo (simulator replaying bundled candles)"
    return ENV_LABELS.get(env, f"custom Bybit endpoint {env}")


def parse_symbol(raw: str | None) -> str:
    symbol = (raw or "").strip().upper()
    if symbol and not symbol.endswith("USDT") and SYMBOL_RE.match(symbol + "USDT"):
        symbol += "USDT"
    if not SYMBOL_RE.match(symbol):
        raise ArgumentError(f"{raw!r} is not a symbol.")
    return symbol


def parse_interval(raw: str) -> str:
    """A chart interval as a trader writes it (15, 15m, 1h, 4h, D, 1d) → Bybit's (15, 60, 240, D)."""
    text = raw.strip().lower()
    if text in ("d", "1d"):
        return "D"
    minutes = text.removesuffix("m")
    if text.endswith("h") and text[:-1].isdigit():
        minutes = str(int(text[:-1]) * 60)
    if minutes not in INTERVALS:
        raise ArgumentError(f"{raw!r} is not an interval.")
    return minutes


def parse_decimal(raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip().rstrip("%"))
    except InvalidOperation:
        raise ArgumentError(f"{raw!r} is not a number.") from None
    if not value.is_finite():
        raise ArgumentError(f"{raw!r} is not a number.")
    return value


class BotService:
    """Facade the Telegram handlers call; holds no Telegram types."""

    def __init__(self, cfg: Config, engine: TradingEngine, client: BybitClient, journal: Journal,
                 clock: Callable[[], datetime]) -> None:
        self.cfg, self.engine, self.client, self.journal, self.clock = cfg, engine, client, journal, clock
        self.market_note: Callable[[], str | None] | None = None  # set by --demo: where the replay is
        self.streams: StreamRunner | None = None  # set by the app when the WebSocket streams run

    # ------------------------------------------------------------------ views

    def overview(self) -> Overview:
        return Overview(env_label(self.cfg), list(self.cfg.bot.symbols), self.cfg.bot.interval, self.engine.mode,
                        self.engine.paused, self.engine.risk.risk_pct)

    async def status(self) -> StatusView:
        now = self.clock()
        rows, protections = [], []
        for symbol in self.cfg.bot.symbols:
            tick = self.engine.last_ticks.get(symbol)
            sig = self.engine.last_signals.get(symbol)
            block = await self.engine.entry_block(symbol, now)
            if block is not None and block.is_protection and block.text not in protections:
                protections.append(block.text)
            rows.append(SymbolStatus(symbol, tick.time if tick else None, tick.ok if tick else None,
                                     tick.score if tick else None, sig.threshold if sig else None,
                                     tick.action if tick else None, tick.error if tick else None,
                                     block.text if block else None))
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
            out.append(PositionView(p.symbol, p.side, p.size, p.avg_price, p.mark_price, p.unrealised_pnl,
                                    p.unrealised_pnl / notional * 100 if notional else None, p.stop_loss,
                                    p.take_profit, liq, p.leverage, trailing_state(p, trade),
                                    trade is not None, source, margin,
                                    p.unrealised_pnl / margin * 100 if margin else None))
        return out

    def _liq_estimate(self, p: Position, equity: Decimal | None, others: list[Position]) -> Decimal | None:
        """The same cross-margin estimate as the card's, from the equity now at the mark (0: none)."""
        if equity is None:
            return None
        liq = cross_liquidation_price(Side(p.side), p.mark_price or p.avg_price, p.size, equity,
                                      other_maintenance=maintenance_margin(others))
        if liq is None:
            return ZERO
        inst = self.engine.instruments.get(p.symbol)
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
            raise ArgumentError(f"{period!r} is not a period.")
        since, until = period_bounds(key, self.clock())
        return PnLView(key, await self.journal.trades.pnl(since, until + timedelta(microseconds=1)))

    async def balance(self) -> Wallet:
        return await self.client.wallet()

    async def trades(self, n: int) -> list[TradeRecord]:
        if not 1 <= n <= 100:
            raise ArgumentError(f"{n} trades is out of range.")
        return await self.journal.trades.closed(limit=n)

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
        p = self.cfg.strategy
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
        return ChartData(symbol, interval, frame, trades, found[0] if found else None, shown, cards)

    # ------------------------------------------------------------------ actions

    async def pause(self, by: str, origin: str | None = None) -> Outcome:
        """``origin``: the asking chat, answered by the caller, so the broadcast alert skips it."""
        return await self.engine.pause(by, origin)

    async def resume(self, by: str, origin: str | None = None) -> Outcome:
        return await self.engine.resume(by, origin)

    async def set_mode(self, raw: str) -> Outcome:
        mode = raw.strip().lower()
        if mode not in ("auto", "confirm"):
            raise ArgumentError(f"{raw!r} is not a mode.")
        return await self.engine.set_mode(mode)

    def backtest_settings(self) -> tuple[RiskParams, str]:
        """The live risk settings a chat /backtest should use (``/risk`` persisted in the journal), and a line
        saying where they came from."""
        risk, mode = self.engine.risk, self.engine.mode
        source = "live settings"
        if risk.risk_pct != self.cfg.risk.risk_pct:
            source += f" (/risk {risk.risk_pct}%, config {self.cfg.risk.risk_pct}%)"
        applied = self.engine.applied_settings()
        if applied:
            source += f"; {len(applied)} setting(s) applied from /optimize: " + ", ".join(
                f"{k} {v}" for k, v in sorted(applied.items()))
        if mode != "auto":
            source += f"; live mode {mode}: the backtest takes every signal, as auto mode would"
        return risk, source

    async def backtest(self, symbol: str, days: int) -> BacktestReport:
        """A backtest of the live strategy and risk settings over the last ``days`` up to the market time now, from
        the account's equity (10 000 USDT when the account is empty)."""
        wallet = await self.client.wallet()
        balance = wallet.total_equity if wallet.total_equity > 0 else BACKTEST_FALLBACK_BALANCE
        end_ms = datetime_to_ms(self.engine.now_for(symbol))
        risk, source = self.backtest_settings()
        live = replace(self.cfg, file=self.cfg.file.model_copy(update={"strategy": self.engine.strategy}))
        return await backtest_recent(self.client, live, symbol, days, end_ms, balance, risk=risk, source=source)

    async def set_risk(self, raw: str) -> Outcome:
        value = parse_decimal(raw)
        try:
            return await self.engine.set_risk(value)
        except ValidationError:
            raise ArgumentError(f"Risk {value}% is out of range.") from None

    async def request_close(self, symbol: str) -> tuple[str, Position]:
        symbol = parse_symbol(symbol)
        found = await self.client.positions(symbol)
        if not found:
            raise UserError(f"No open {symbol} position.")
        return await self.new_token("close", symbol), found[0]

    async def request_stop_all(self) -> tuple[str, list[Position]]:
        return await self.new_token("stop_all", ""), await self.client.positions()

    async def stop_all(self, by: str, origin: str | None = None) -> Outcome:
        await self.engine.pause(by, origin)
        out = await self.engine.close_all()
        return Outcome(out.status, f"Paused. {out.text}")

    async def close(self, symbol: str) -> Outcome:
        return await self.engine.close(symbol)

    async def decide_unknown(self, symbol: str, decision: str) -> Outcome:
        """``decision``: adopt, close or ignore an unknown position."""
        if decision not in ("adopt", "close", "ignore"):
            raise UserError("Unknown choice.")
        return await self.engine.decide_unknown(parse_symbol(symbol), decision)

    async def approve(self, conf_id: str, user_id: int) -> Outcome:
        return await self.engine.approve(conf_id, user_id)

    async def reject(self, conf_id: str, user_id: int) -> Outcome:
        return await self.engine.reject(conf_id, user_id)

    # ------------------------------------------------------------------ /optimize → Apply

    async def save_proposal(self, symbol: str, changes: dict[str, object]) -> str:
        """Keep an optimize result's setting changes (for its Apply button) for PROPOSAL_TTL; returns its id."""
        pid = secrets.token_urlsafe(8)
        await self.journal.state.put_action(PROPOSAL, pid, {"symbol": symbol, "changes": changes},
                                            self.clock() + PROPOSAL_TTL)
        return pid

    async def proposal(self, pid: str) -> dict[str, object]:
        found = await self.journal.state.peek_action(PROPOSAL, pid, self.clock())
        if found is None:
            raise UserError("This optimize result has expired; run /optimize again.")
        return dict(found["changes"])

    def setting_diff(self, changes: dict[str, object]) -> list[tuple[str, object, object]]:
        """(path, live value, proposed value) for every proposed change that differs from the live settings."""
        risk, strategy = self.engine.risk, self.engine.strategy
        try:
            new_risk, new_strategy = apply_changes(risk, strategy, changes)
        except (ValidationError, KeyError) as exc:
            raise UserError(f"These settings no longer fit the live config: {exc}") from None
        out = []
        for path in changes:
            old, new = current_value(path, risk, strategy), current_value(path, new_risk, new_strategy)
            if old != new:
                out.append((path, old, new))
        return out

    async def apply_settings(self, changes: dict[str, object], by: str) -> Outcome:
        try:
            return await self.engine.apply_settings(changes, by)
        except (ValidationError, KeyError) as exc:
            raise UserError(f"Not applied: {exc}") from None

    # ------------------------------------------------------------------ button tokens & audit

    async def new_token(self, action: str, symbol: str) -> str:
        """Opaque single-use id for a confirm button; the action lives in the journal, not the button."""
        token = secrets.token_urlsafe(8)
        await self.journal.state.put_action(BUTTON, token, {"action": action, "symbol": symbol},
                                            self.clock() + TOKEN_TTL)
        return token

    async def take_token(self, token: str, action: str | None) -> dict[str, str] | None:
        """The token's payload if it exists, matches ``action`` (None: any) and is fresh; consumed either way."""
        payload = await self.journal.state.take_action(BUTTON, token, self.clock())
        if payload is None or (action is not None and payload.get("action") != action):
            return None
        return payload

    async def audit(self, *, kind: str, action: str, allowed: bool, user_id: int | None, chat_id: int | None,
                    args: str | None = None, result: str | None = None) -> None:
        await self.journal.ops.audit(kind=kind[:16], action=action[:64], allowed=allowed, user_id=user_id,
                                     chat_id=chat_id, args=args, result=(result or "")[:500], now=utcnow())


def trailing_state(p: Position, trade: TradeRecord | None) -> str:
    if p.trailing_stop:
        return f"exchange trailing, distance {p.trailing_stop}"
    if trade is None:
        return "not managed by the bot"
    history = trade.stop_history or []
    if history and history[-1].get("reason") == "trailing":
        return "trailing (bot)"
    if trade.trailing_distance:
        return f"armed: {trade.trailing_distance} from {trade.trailing_active_price}"
    return "break-even done" if trade.breakeven_done else "waiting for break-even"
