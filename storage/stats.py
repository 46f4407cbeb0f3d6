"""PnL statistics over closed trades: net = the exchange's closedPnl, with fees and funding as components."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlmodel import Session

from storage.models import FundingRecord, TradeRecord
from storage.trades import closed_trades, funding_records
from storage.types import as_utc
from tradebot.money import ZERO

PERIODS = ("today", "7d", "30d", "all")


@dataclass(frozen=True)
class SymbolStats:
    """Per-symbol slice of a :class:`PnLSummary`."""

    symbol: str
    trades: int
    wins: int
    losses: int
    net_pnl: Decimal
    trading_fees: Decimal
    funding_fees: Decimal

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None


@dataclass(frozen=True)
class PnLSummary:
    """Closed-trade PnL over ``[since, until)``. Fees and funding are positive when paid.

    ``net_pnl`` is the sum of the exchange's closedPnl, which already deducts the opening fee, the closing fee
    AND the funding paid while holding (Bybit's Closed P&L): it is never reduced again. ``trading_fees`` and
    ``funding_fees`` (of the closed trades) are its components: ``gross_pnl`` (price PnL) = net + fees + funding.
    ``funding_settled`` is every funding settlement in the period, including on positions still open (info only).
    ``win_rate`` = wins / trades (break-even trades count as trades, neither win nor loss).
    """

    since: datetime | None
    until: datetime | None
    trades: int
    wins: int
    losses: int
    net_pnl: Decimal
    gross_pnl: Decimal
    trading_fees: Decimal
    funding_fees: Decimal
    win_rate: float | None
    profit_factor: Decimal | None
    max_drawdown: Decimal
    max_drawdown_pct: Decimal | None
    best: Decimal | None
    worst: Decimal | None
    avg_win: Decimal | None
    avg_loss: Decimal | None
    by_symbol: dict[str, SymbolStats] = field(default_factory=dict)
    funding_settled: Decimal = ZERO


def period_bounds(name: str, now: datetime) -> tuple[datetime | None, datetime]:
    """``(since, until)`` for "today" (since UTC midnight), "7d", "30d" or "all" (since None); until = now."""
    now = as_utc(now)
    key = name.strip().lower()
    if key == "today":
        return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo), now
    if key == "7d":
        return now - timedelta(days=7), now
    if key == "30d":
        return now - timedelta(days=30), now
    if key == "all":
        return None, now
    raise ValueError(f"unknown period {name!r}; use one of {', '.join(PERIODS)}")


def _pnl(trade: TradeRecord) -> Decimal:
    return trade.pnl if trade.pnl is not None else ZERO


def _drawdown(
    trades: Sequence[TradeRecord], starting_balance: Decimal | None
) -> tuple[Decimal, Decimal | None]:
    """Largest peak-to-trough fall of cumulative net PnL (from 0), and as % of peak equity."""
    cum = peak = worst = ZERO
    worst_pct: Decimal | None = None if starting_balance is None else ZERO
    peak_equity = starting_balance
    for trade in trades:
        cum += _pnl(trade)
        peak = max(peak, cum)
        worst = max(worst, peak - cum)
        if starting_balance is not None and peak_equity is not None and worst_pct is not None:
            equity = starting_balance + cum
            peak_equity = max(peak_equity, equity)
            if peak_equity > 0:
                worst_pct = max(worst_pct, (peak_equity - equity) / peak_equity * 100)
    return worst, worst_pct


def _by_symbol(trades: Sequence[TradeRecord]) -> dict[str, SymbolStats]:
    symbols = sorted({t.symbol for t in trades})
    out = {}
    for sym in symbols:
        mine = [t for t in trades if t.symbol == sym]
        out[sym] = SymbolStats(
            symbol=sym,
            trades=len(mine),
            wins=sum(1 for t in mine if _pnl(t) > 0),
            losses=sum(1 for t in mine if _pnl(t) < 0),
            net_pnl=sum((_pnl(t) for t in mine), ZERO),
            trading_fees=sum((t.entry_fee + t.exit_fee for t in mine), ZERO),
            funding_fees=sum((t.funding_fee for t in mine), ZERO),
        )
    return out


def summarize(
    trades: Sequence[TradeRecord],
    funding: Sequence[FundingRecord],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    starting_balance: Decimal | None = None,
) -> PnLSummary:
    """Build a :class:`PnLSummary` from already-loaded rows (trades in exit order)."""
    pnls = [_pnl(t) for t in trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    net = sum(pnls, ZERO)
    fees = sum((t.entry_fee + t.exit_fee for t in trades), ZERO)
    funding_paid = sum((t.funding_fee for t in trades), ZERO)
    gross_win, gross_loss = sum(wins, ZERO), sum(losses, ZERO)
    dd, dd_pct = _drawdown(trades, starting_balance)
    return PnLSummary(
        since=since,
        until=until,
        trades=len(pnls),
        wins=len(wins),
        losses=len(losses),
        net_pnl=net,
        gross_pnl=net + fees + funding_paid,
        trading_fees=fees,
        funding_fees=funding_paid,
        win_rate=len(wins) / len(pnls) if pnls else None,
        profit_factor=gross_win / -gross_loss if losses else None,
        max_drawdown=dd,
        max_drawdown_pct=dd_pct,
        best=max(pnls) if pnls else None,
        worst=min(pnls) if pnls else None,
        avg_win=gross_win / len(wins) if wins else None,
        avg_loss=gross_loss / len(losses) if losses else None,
        by_symbol=_by_symbol(trades),
        funding_settled=sum((f.fee for f in funding), ZERO),
    )


def pnl_summary(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None,
    symbol: str | None = None,
    starting_balance: Decimal | None = None,
) -> PnLSummary:
    """Summary of trades closed (and funding settled) in ``since <= t < until``; bounds may be None."""
    trades = closed_trades(session=session, since=since, until=until, symbol=symbol, newest_first=False)
    funding = funding_records(session=session, since=since, until=until, symbol=symbol)
    return summarize(
        trades,
        funding,
        since=None if since is None else as_utc(since),
        until=None if until is None else as_utc(until),
        starting_balance=starting_balance,
    )
