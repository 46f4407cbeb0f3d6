"""Period reports over closed trades (/pnl daily|weekly|monthly [N], /performance): pure maths over trade views
(their chat tables: handlers/render/reports.py).

A trade belongs to the UTC day, ISO week (Monday first) or month of its exit. Net is the trade's closed PnL
(Bybit's: after trading fees and funding), fees its trading fees (entry + exit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from tradebot.chat.views import TradeView
from tradebot.errors import ArgumentError
from tradebot.money import ZERO
from tradebot.parsing import shown, whole
from tradebot.tick.engine import TradingEngine


class ReportSource:
    """What the reports read: every closed trade, and the market time (what trades are stamped with)."""

    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine

    async def closed_trades(self) -> list[TradeView]:
        return [TradeView.of(t) for t in await self.engine.journal.trades.closed()]

    def now(self) -> datetime:
        return self.engine.market.now_for()


UNITS = {"daily": 7, "weekly": 4, "monthly": 6}  # the default number of periods
MAX_PERIODS = 60


@dataclass(frozen=True)
class Bucket:
    """Trades of one period or one group (a symbol, an origin)."""

    label: str
    trades: int = 0
    wins: int = 0
    net: Decimal = ZERO
    fees: Decimal = ZERO
    cumulative: Decimal = ZERO

    @property
    def win_rate(self) -> Decimal | None:
        return Decimal(self.wins * 100) / self.trades if self.trades else None

    def plus(self, t: TradeView) -> Bucket:
        pnl = t.pnl or ZERO
        return Bucket(self.label, self.trades + 1, self.wins + (pnl > 0), self.net + pnl,
                      self.fees + t.entry_fee + t.exit_fee, self.cumulative)


def parse_periods(unit: str, raw: str | None) -> tuple[str, int]:
    key = unit.strip().lower()
    if key not in UNITS:
        raise ArgumentError(f"{shown(unit)} is not a period.")
    if raw is None:
        return key, UNITS[key]
    try:
        n = whole(raw)
    except ValueError:
        raise ArgumentError(f"{shown(raw)} is not a whole number.") from None
    if not 1 <= n <= MAX_PERIODS:
        raise ArgumentError(f"{n} periods is out of range (1 to {MAX_PERIODS}).")
    return key, n


def period_start(unit: str, day: date) -> date:
    if unit == "daily":
        return day
    if unit == "weekly":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def previous(unit: str, start: date) -> date:
    if unit == "daily":
        return start - timedelta(days=1)
    if unit == "weekly":
        return start - timedelta(days=7)
    return (start - timedelta(days=1)).replace(day=1)


def label(unit: str, start: date) -> str:
    if unit == "daily":
        return start.isoformat()
    if unit == "weekly":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m")


def periods(trades: Sequence[TradeView], unit: str, n: int, now: datetime) -> list[Bucket]:
    """The last ``n`` periods up to the one holding ``now``, oldest first, empty ones included; ``cumulative``
    runs over the periods shown."""
    starts = [period_start(unit, now.date())]
    while len(starts) < n:
        starts.append(previous(unit, starts[-1]))
    starts.reverse()
    buckets = {s: Bucket(label(unit, s)) for s in starts}
    for t in trades:
        if t.exit_time is None:
            continue
        s = period_start(unit, t.exit_time.date())
        if s in buckets:
            buckets[s] = buckets[s].plus(t)
    out, run = [], ZERO
    for s in starts:
        b = buckets[s]
        run += b.net
        out.append(Bucket(b.label, b.trades, b.wins, b.net, b.fees, run))
    return out


def groups(trades: Sequence[TradeView], key: str) -> list[Bucket]:
    """Closed trades grouped by ``key`` ("symbol" or "origin"), best net first."""
    found: dict[str, Bucket] = {}
    for t in trades:
        name = str(getattr(t, key))
        found[name] = found.get(name, Bucket(name)).plus(t)
    return sorted(found.values(), key=lambda b: -b.net)


def equity_points(trades: Sequence[TradeView]) -> list[tuple[datetime, Decimal]]:
    """The realised equity curve: cumulative net PnL at each exit, oldest first."""
    run, out = ZERO, []
    for t in sorted((t for t in trades if t.exit_time is not None), key=lambda t: t.exit_time or datetime.min):
        run += t.pnl or ZERO
        assert t.exit_time is not None
        out.append((t.exit_time, run))
    return out
