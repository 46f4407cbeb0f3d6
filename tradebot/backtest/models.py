"""Backtest results: the trade list (exact Decimals), protection pauses, the equity curve and the run's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from tradebot.side import Side
from tradebot.sizing.execution import MARKET_ENTRIES, ExecutionSettings
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams


@dataclass(frozen=True)
class Trade:
    """One closed round trip. ``pnl`` is the closed PnL: gross PnL minus entry and exit fees and minus the
    funding paid at the settlements the position held (as Bybit's closed PnL counts it)."""

    symbol: str
    side: Side  # Buy (long) or Sell (short)
    entry_time: datetime
    entry_price: Decimal
    exit_time: datetime
    exit_price: Decimal
    qty: Decimal
    pnl: Decimal
    fees: Decimal
    reason: str  # take_profit | stop_loss | breakeven_stop | trailing_stop | end_of_data (the journal's names)
    sl: Decimal  # stop-loss attached at entry
    tp: Decimal
    atr: Decimal
    entry_bar: int
    exit_bar: int
    exit_point: int  # 0 = at the gap to the bar's open, 1-2 = the bar's extremes, 3 = its close
    open_fee: Decimal = Decimal(0)
    stop_moves: int = 0
    exit_sl: Decimal | None = None  # the stop in force when the position closed
    funding: Decimal = Decimal(0)  # funding paid while open (negative = received); already inside ``pnl``
    entry_maker: bool = False  # the entry filled as maker (a PostOnly limit), else taker
    exit_maker: bool = False  # the exit filled as maker (the take-profit limit), else taker

    @property
    def sign(self) -> int:
        return 1 if self.side == Side.BUY else -1

    @property
    def gross(self) -> Decimal:
        return (self.exit_price - self.entry_price) * self.qty * self.sign

    def as_dict(self) -> dict[str, object]:
        """JSON-safe row: money and prices as exact decimal strings, times as ISO-8601 UTC."""
        return {
            "side": self.side, "entry_time": self.entry_time.isoformat(), "entry_price": str(self.entry_price),
            "exit_time": self.exit_time.isoformat(), "exit_price": str(self.exit_price), "qty": str(self.qty),
            "pnl": str(self.pnl), "fees": str(self.fees), "reason": self.reason, "sl": str(self.sl),
            "tp": str(self.tp), "atr": str(self.atr), "stop_moves": self.stop_moves,
            "exit_sl": None if self.exit_sl is None else str(self.exit_sl), "funding": str(self.funding),
            "entry_fill": "maker" if self.entry_maker else "taker", "exit_fill": "maker" if self.exit_maker else "taker",
        }


MARKET = MARKET_ENTRIES


@dataclass(frozen=True)
class Pause:
    """Entries blocked by the protections from ``start`` until ``end`` (None = still blocked at the end)."""

    start: datetime
    end: datetime | None
    reasons: tuple[str, ...]
    signals_skipped: int


@dataclass
class BacktestResult:
    """Everything a report needs. ``equity`` is the mark-to-market equity at each bar's close (float USDT)."""

    symbol: str
    interval_ms: int
    start: datetime
    end: datetime
    bars: int
    initial_balance: Decimal
    final_balance: Decimal
    trades: list[Trade]
    equity: pd.Series
    in_position: np.ndarray  # bool per bar of the window: a position was open at the bar's close
    risk: RiskParams
    strategy: StrategyParams
    signals: int = 0  # BUY/SELL signals in the window
    pauses: list[Pause] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)  # sizing refusals by reason
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    replay: str = "decimal"  # "ticks" when the integer-tick replay ran (same trades, faster)
    funding_included: bool = False  # a funding-rate history was given (else funding is not in the PnL)
    funding_paid: Decimal = Decimal(0)  # total over all trades (negative = received)
    execution: ExecutionSettings = field(default_factory=lambda: MARKET)  # how entries were sent
    maker_unfilled: int = 0  # maker entries not filled in their window (then a market entry or none: fallback)
    market: dict[str, str] | None = None  # the same run with market entries: trades, fees, gross_pnl, net_pnl
    funding_settlements: int = 0  # settlements charged to open positions
    close: np.ndarray | None = None  # each bar's close over the window (buy-and-hold comparison)
    settings_source: str = ""  # where the settings came from, e.g. "live settings (/risk 2%)"
