"""The dataclasses BotService returns to the chat layer (status, positions, PnL, trades, chart data); plain data, no
I/O. Journal rows never reach the renderers (handlers/render/): the service copies what they show into a view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from storage.models import Confirmation, TradeRecord
from storage.stats import PnLSummary
from tradebot.bybit.account_models import Position
from tradebot.side import Side
from tradebot.states import StopMove, StopMoveReason, TradeMode
from tradebot.strategy.params import StrategyParams


@dataclass(frozen=True)
class Overview:
    env: str
    symbols: list[str]
    interval: str
    mode: TradeMode
    paused: bool
    risk_pct: Decimal


@dataclass(frozen=True)
class SymbolStatus:
    symbol: str
    last_tick: datetime | None
    ok: bool | None
    score: float | None
    threshold: float | None
    action: str | None
    error: str | None
    blocked: str | None
    refused: str | None = None  # why the last signal was not sized (fees over max_fee_share, below the minimum)


@dataclass(frozen=True)
class StatusView:
    overview: Overview
    symbols: list[SymbolStatus]
    open_positions: int
    today: PnLSummary
    protections: list[str]
    market_note: str | None = None  # e.g. the demo's replay progress, or that it has finished
    streams: list[str] = field(default_factory=list)  # one line per WebSocket stream (state, last message age)


@dataclass(frozen=True)
class PositionView:
    symbol: str
    side: Side
    size: Decimal
    entry: Decimal
    mark: Decimal
    upnl: Decimal
    upnl_pct: Decimal | None  # % of the notional at entry
    sl: Decimal | None
    tp: Decimal | None
    liq: Decimal | None
    leverage: Decimal
    trailing: str
    managed: bool
    liq_source: str = "exchange"  # "exchange": Bybit's liqPrice; "estimate": ours (cross margin, 0 = none)
    margin: Decimal | None = None  # initial margin: position value / leverage
    roi_pct: Decimal | None = None  # % of that margin, like Bybit's ROI


@dataclass(frozen=True)
class PnLView:
    period: str
    summary: PnLSummary


@dataclass(frozen=True)
class TradeView:
    """A journaled trade as the chat shows it (/trades, the reports, the chart's markers): open or closed."""

    symbol: str
    side: str
    qty: Decimal
    entry_price: Decimal
    entry_time: datetime
    exit_price: Decimal | None = None
    exit_time: datetime | None = None
    pnl: Decimal | None = None  # Bybit's closed PnL: after trading fees and funding
    reason: str | None = None
    stop_moves: tuple[StopMove, ...] = ()  # oldest first (names a stop_loss exit)
    entry_fee: Decimal = Decimal(0)
    exit_fee: Decimal = Decimal(0)
    origin: str = "signal"

    @classmethod
    def of(cls, t: TradeRecord) -> TradeView:
        return cls(t.symbol, t.side, t.qty, t.entry_price, t.entry_time, t.exit_price, t.exit_time, t.pnl, t.reason,
                   tuple(t.stop_moves), t.entry_fee, t.exit_fee, t.origin)


@dataclass(frozen=True)
class CardLevels:
    """A waiting confirmation card's levels, drawn on the chart."""

    side: str
    price: Decimal
    sl: Decimal | None
    tp: Decimal | None

    @classmethod
    def of(cls, c: Confirmation) -> CardLevels:
        return cls(c.side, c.price, c.sl, c.tp)


@dataclass(frozen=True)
class ChartData:
    """Everything :func:`handlers.render.chart.render_chart` draws."""

    symbol: str
    interval: str
    frame: object  # pandas DataFrame (OHLCV, UTC index): the shown candles plus indicator warm-up before them
    trades: list[TradeView]
    position: Position | None
    shown: int = 0  # how many of the frame's last candles to draw (0: all)
    cards: list[CardLevels] = field(default_factory=list)  # waiting confirmation cards: their SL/TP
    strategy: StrategyParams | None = None  # the live settings whose EMAs and bands are drawn


def trailing_state(p: Position, trade: TradeRecord | None) -> str:
    """How the position's stop is trailed, as /positions says it."""
    if p.trailing_stop:
        return f"exchange trailing, distance {p.trailing_stop}"
    if trade is None:
        return "not managed by the bot"
    moves = trade.stop_moves
    if moves and moves[-1].reason is StopMoveReason.TRAILING:
        return "trailing (bot)"
    if trade.trailing_distance:
        return f"armed: {trade.trailing_distance} from {trade.trailing_active_price}"
    return "break-even done" if trade.breakeven_done else "waiting for break-even"
