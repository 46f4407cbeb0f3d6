"""The dataclasses BotService returns to the chat layer (status, positions, PnL, chart data); plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from storage.models import Confirmation, TradeRecord
from storage.stats import PnLSummary
from tradebot.bybit.account_models import Position


@dataclass(frozen=True)
class Overview:
    env: str
    symbols: list[str]
    interval: str
    mode: str
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
    side: str
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
class ChartData:
    """Everything :func:`tradebot.chart.render_chart` draws."""

    symbol: str
    interval: str
    frame: object  # pandas DataFrame (OHLCV, UTC index): the shown candles plus indicator warm-up before them
    trades: list[TradeRecord]
    position: Position | None
    shown: int = 0  # how many of the frame's last candles to draw (0: all)
    cards: list[Confirmation] = field(default_factory=list)  # waiting confirmation cards: their SL/TP
