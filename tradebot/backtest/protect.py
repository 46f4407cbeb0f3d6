"""The live entry protections over the backtest's closed trades, with the live engine's inputs and day start."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from tradebot.market import DAY_MS, ms_to_datetime
from tradebot.sizing.risk import RiskParams
from tradebot.tick.protections import ClosedTradeView, ProtectionState, losses_tripped, protection_state

WINDOW = timedelta(days=7)  # the live engine reads closed trades of the last 7 days (TradingEngine.entry_block)
WINDOW_MS = 7 * DAY_MS


class _Closed(NamedTuple):
    pnl: Decimal
    exit_ms: int
    entry_ms: int
    open_fee: Decimal
    sign: int
    entry: Decimal
    qty: Decimal


@dataclass(frozen=True)
class Check:
    """A protection verdict at one tick; ``retry_ms`` is the earliest tick time worth checking again."""

    state: ProtectionState
    retry_ms: int | None


_ALLOWED = Check(ProtectionState(True, (), None), None)


class Protections:
    """Feeds :func:`tradebot.tick.protections.protection_state` exactly what the live engine would.

    - closed trades: those closed in the last 7 days (``exit_time >= now - 7d``), as the live journal query;
      only the subset that can change the verdict is passed (today's closes, the latest loss, the newest
      ``max_consecutive_losses`` + 1 closes), which gives the same ``entries_allowed``/``resume_at``;
    - the day's starting balance: total equity (wallet + unrealised PnL at the last price) at the first
      BUY/SELL signal tick of the UTC day, which is when the live engine records ``day_start``.
    """

    def __init__(self, symbol: str, risk: RiskParams, initial: Decimal, signal_tick_ms: np.ndarray,
                 open_at: Callable[[int], Decimal], verify: bool = False) -> None:
        self.symbol, self.risk, self.initial = symbol, risk, initial
        self.signal_tick_ms = signal_tick_ms  # sorted tick times (ms) of every BUY/SELL signal
        self.open_at = open_at  # exact last price at a tick time (the bar's open)
        self.closed: list[_Closed] = []
        self.exit_ms: list[int] = []
        self.losses: list[int] = []  # indexes into closed
        self.day_start: dict[int, Decimal] = {}
        self.wallet = initial
        self.verify = verify  # tests: run protection_state on every check and compare with the fast path
        self._day = -1
        self._day_pnl = Decimal(0)

    def record(self, *, exit_ms: int, entry_ms: int, pnl: Decimal, open_fee: Decimal, sign: int, entry: Decimal,
               qty: Decimal) -> None:
        self.closed.append(_Closed(pnl, exit_ms, entry_ms, open_fee, sign, entry, qty))
        self.exit_ms.append(exit_ms)
        if pnl < 0:
            self.losses.append(len(self.closed) - 1)
        self.wallet += pnl
        if exit_ms // DAY_MS != self._day:
            self._day, self._day_pnl = exit_ms // DAY_MS, Decimal(0)
        self._day_pnl += pnl

    def _clearly_allowed(self, now_ms: int) -> bool:
        """True only when no protection can be tripped (then protection_state would allow the entry): today's
        net loss below the limit, no cooldown running, no full losing streak in the 7-day window."""
        r = self.risk
        loss = -self._day_pnl if self._day == now_ms // DAY_MS else Decimal(0)
        if loss > 0 and loss >= max(self.balance_start_of_day(now_ms), Decimal(0)) * r.daily_loss_limit_pct / 100:
            return False
        if not r.cooldown_minutes and not r.max_consecutive_losses:
            return True
        lo = bisect_left(self.exit_ms, now_ms - WINDOW_MS)
        if r.cooldown_minutes and self.losses and self.losses[-1] >= lo:
            if self.exit_ms[self.losses[-1]] + r.cooldown_minutes * 60_000 > now_ms:
                return False
        limit_n = r.max_consecutive_losses
        if limit_n and len(self.closed) - lo >= limit_n:
            if all(c.pnl < 0 for c in self.closed[-limit_n:]):
                return False
        return True

    def _equity_at(self, t_ms: int) -> Decimal:
        """Total equity just after the gap into tick ``t_ms`` (before any entry at that tick); all trades closed."""
        wallet, upl = self.wallet, Decimal(0)
        for c in reversed(self.closed):
            if c.exit_ms <= t_ms:
                break
            wallet -= c.pnl + c.open_fee  # not realised yet at t
            if c.entry_ms < t_ms:
                upl = c.sign * (self.open_at(t_ms) - c.entry) * c.qty
            else:
                wallet += c.open_fee  # not even opened yet at t
        return wallet + upl

    def balance_start_of_day(self, now_ms: int) -> Decimal:
        day = now_ms // DAY_MS
        if day not in self.day_start:
            k = int(np.searchsorted(self.signal_tick_ms, day * DAY_MS, side="left"))
            first = int(self.signal_tick_ms[k]) if k < self.signal_tick_ms.size else now_ms
            self.day_start[day] = self._equity_at(min(first, now_ms))
        return self.day_start[day]

    def _subset(self, now_ms: int) -> list[ClosedTradeView]:
        lo = bisect_left(self.exit_ms, now_ms - WINDOW_MS)
        keep: set[int] = set(range(max(lo, len(self.closed) - self.risk.max_consecutive_losses - 1), len(self.closed)))
        keep.update(range(max(lo, bisect_left(self.exit_ms, now_ms // DAY_MS * DAY_MS)), len(self.closed)))
        if self.losses and self.losses[-1] >= lo:
            keep.add(self.losses[-1])
        return [ClosedTradeView(self.symbol, ms_to_datetime(self.closed[i].exit_ms), self.closed[i].pnl)
                for i in sorted(keep)]

    def check(self, now_ms: int) -> Check:
        """The live verdict at tick ``now_ms`` (flat), and when a blocked verdict can next change."""
        if self._clearly_allowed(now_ms) and not self.verify:
            return _ALLOWED
        now = ms_to_datetime(now_ms)
        subset = self._subset(now_ms)
        state = protection_state(subset, symbol=self.symbol, now=now,
                                 balance_start_of_day=self.balance_start_of_day(now_ms), params=self.risk,
                                 open_positions=0)
        if state.entries_allowed:
            return Check(state, None)
        assert not self.verify or not self._clearly_allowed(now_ms), "fast path disagrees with protection_state"
        retry = [(state.resume_at - ms_to_datetime(0)) // timedelta(milliseconds=1)] if state.resume_at else []
        if losses_tripped(subset, self.risk):
            # the streak ends when its oldest counted loss leaves the 7-day window (no operator /resume here)
            lo = bisect_left(self.exit_ms, now_ms - WINDOW_MS)
            streak_start = len(self.closed) - self.risk.max_consecutive_losses
            retry.append(self.exit_ms[max(streak_start, lo)] + WINDOW_MS + 1)
        if not retry:
            return Check(state, None)
        return Check(state, max(retry + [now_ms + 1]))
