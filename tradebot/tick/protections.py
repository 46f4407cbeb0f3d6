"""Account protections over closed trades: daily loss limit, per-symbol cooldown, consecutive-loss pause."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from tradebot.money import ZERO
from tradebot.sizing.instruments import as_decimal, format_decimal
from tradebot.sizing.risk import RiskParams


class ClosedTrade(Protocol):
    """What the protections need from a closed trade (a storage row can satisfy this directly)."""

    @property
    def symbol(self) -> str: ...
    @property
    def closed_at(self) -> datetime: ...
    @property
    def pnl(self) -> Decimal: ...


@dataclass(frozen=True)
class ClosedTradeView:
    """A closed trade: symbol, close time (timezone-aware, UTC) and realised PnL in USDT (net of fees)."""

    symbol: str
    closed_at: datetime
    pnl: Decimal


@dataclass(frozen=True)
class DailyLossCheck:
    """Daily loss limit result; truthy when tripped. Entries resume at the next UTC midnight (resume_at)."""

    tripped: bool
    loss_today: Decimal  # net realised loss since 00:00 UTC (negative = net profit)
    limit: Decimal | None  # daily_loss_limit_pct of the day's starting balance, USDT; None: no start known yet
    resume_at: datetime | None  # set only when tripped

    def __bool__(self) -> bool:
        return self.tripped


@dataclass(frozen=True)
class ProtectionState:
    """Whether new entries are allowed, every reason they are not, and the earliest time that may change."""

    entries_allowed: bool
    reasons: tuple[str, ...]
    resume_at: (
        datetime | None
    )  # when all timed pauses end; None if nothing timed (or a manual reset is needed)


def _utc(name: str, when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {when.isoformat()}")
    return when.astimezone(UTC)


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def daily_loss_tripped(
    trades: Iterable[ClosedTrade], now: datetime, balance_start_of_day: Decimal | None, params: RiskParams
) -> DailyLossCheck:
    """Tripped when today's (UTC) net realised loss ≥ daily_loss_limit_pct of the day's starting balance.

    ``balance_start_of_day`` None (not recorded yet: the day's first tick records it) never trips: a limit of 0
    would block every entry after any loss."""
    now = _utc("now", now)
    start = _day_start(now)
    pnl_today = sum(
        (as_decimal("pnl", t.pnl) for t in trades if start <= _utc("closed_at", t.closed_at) <= now), ZERO
    )
    loss = -pnl_today
    if balance_start_of_day is None:
        return DailyLossCheck(False, loss, None, None)
    balance = as_decimal("balance_start_of_day", balance_start_of_day)
    limit = max(balance, ZERO) * params.daily_loss_limit_pct / 100
    tripped = loss > 0 and loss >= limit
    return DailyLossCheck(tripped, loss, limit, start + timedelta(days=1) if tripped else None)


def cooldown_until(
    trades: Iterable[ClosedTrade], symbol: str, now: datetime, params: RiskParams
) -> datetime | None:
    """End of the cooldown after the latest losing close on ``symbol``, or None when it is over / off."""
    now = _utc("now", now)
    if params.cooldown_minutes == 0:
        return None
    losses = [
        _utc("closed_at", t.closed_at) for t in trades if t.symbol == symbol and as_decimal("pnl", t.pnl) < 0
    ]
    if not losses:
        return None
    until = max(losses) + timedelta(minutes=params.cooldown_minutes)
    return until if until > now else None


def consecutive_losses(trades: Iterable[ClosedTrade], since: datetime | None = None) -> int:
    """Losing closes in a row, newest first (pnl < 0; a zero or positive close ends the streak).

    Trades closed before ``since`` are ignored: pass the time an operator resumed trading to reset the streak.
    """
    since = _utc("since", since) if since is not None else None
    ordered = (
        sorted(  # newest first; at the same instant losses count as newer (conservative, order-independent)
            ((_utc("closed_at", t.closed_at), as_decimal("pnl", t.pnl)) for t in trades),
            key=lambda p: (p[0], p[1] < 0),
            reverse=True,
        )
    )
    count = 0
    for closed_at, pnl in ordered:
        if (since is not None and closed_at < since) or pnl >= 0:
            break
        count += 1
    return count


def losses_tripped(trades: Iterable[ClosedTrade], params: RiskParams, since: datetime | None = None) -> bool:
    """True when the loss streak reached max_consecutive_losses (never when that is 0 = off)."""
    limit = params.max_consecutive_losses
    return limit > 0 and consecutive_losses(trades, since) >= limit


def protection_state(
    trades: Sequence[ClosedTrade],
    *,
    symbol: str,
    now: datetime,
    balance_start_of_day: Decimal | None,
    params: RiskParams,
    open_positions: int = 0,
    losses_reset_at: datetime | None = None,
) -> ProtectionState:
    """All protections for a new entry on ``symbol``; reasons are plain sentences for the chat."""
    fmt = format_decimal
    reasons: list[str] = []
    timed: list[datetime] = []
    manual = False
    daily = daily_loss_tripped(trades, now, balance_start_of_day, params)
    if daily.tripped and daily.resume_at is not None and daily.limit is not None:
        reasons.append(
            f"daily loss limit hit: lost {fmt(daily.loss_today.quantize(Decimal('0.01')))} USDT today "
            f"(limit {fmt(daily.limit.quantize(Decimal('0.01')))} USDT = {fmt(params.daily_loss_limit_pct)}% "
            f"of the day's starting balance); entries resume at {daily.resume_at:%Y-%m-%d %H:%M} UTC"
        )
        timed.append(daily.resume_at)
    cool = cooldown_until(trades, symbol, now, params)
    if cool is not None:
        reasons.append(f"{symbol} is cooling down after a loss until {cool:%Y-%m-%d %H:%M} UTC")
        timed.append(cool)
    streak = consecutive_losses(trades, losses_reset_at)
    if params.max_consecutive_losses > 0 and streak >= params.max_consecutive_losses:
        reasons.append(
            f"{streak} losing trades in a row (limit {params.max_consecutive_losses}); "
            "resume manually to reset"
        )
        manual = True
    if open_positions >= params.max_open_positions:
        reasons.append(f"{open_positions} positions open (limit {params.max_open_positions})")
        manual = True
    resume_at = None if manual or not timed else max(timed)
    return ProtectionState(entries_allowed=not reasons, reasons=tuple(reasons), resume_at=resume_at)
