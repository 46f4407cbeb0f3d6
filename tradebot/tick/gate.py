"""EntryGate: whether a new entry is allowed now, as a typed block reason (None = allowed)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from storage.journal import Journal
from tradebot.bybit.client import BybitClient
from tradebot.errors import ExchangeError
from tradebot.money import ZERO
from tradebot.tick.account import AccountCheck
from tradebot.tick.protections import ClosedTradeView, protection_state
from tradebot.tick.saved import SavedSettings

log = logging.getLogger("tradebot.tick.engine")


class BlockKind(StrEnum):
    ACCOUNT = "account"  # an account setting the bot cannot trade with (read at start)
    HELD = "held"  # entries held by the process (e.g. the chat is unreachable)
    PAUSED = "paused"  # /pause
    OPEN = "open"  # a position on the symbol is already open
    WAITING = "waiting"  # a confirmation for the symbol is already waiting
    MAX_OPEN = "max_open"  # max open positions reached
    PROTECTION = "protection"  # a protection tripped (daily loss, loss streak, cooldown...)


@dataclass(frozen=True)
class EntryBlock:
    """Why a new entry is not allowed: ``kind`` for logic, ``text`` for people."""

    kind: BlockKind
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def alerts(self) -> bool:
        """Worth a once-a-day "Protection" alert (the rest are expected or said elsewhere)."""
        return self.kind in (BlockKind.ACCOUNT, BlockKind.PROTECTION)

    @property
    def is_protection(self) -> bool:
        """Listed under protections in /status (not a normal state like paused or a position already open)."""
        return self.kind in (BlockKind.ACCOUNT, BlockKind.MAX_OPEN, BlockKind.PROTECTION)


@dataclass(frozen=True)
class SizingFees:
    """``size_position``'s fee rates: the stop's (taker), the entry's and the take-profit's."""

    stop: Decimal
    entry: Decimal
    tp: Decimal


class EntryGate:
    """Account refusal, held entries, pause, one position per symbol, max open positions and the protections."""

    def __init__(self, journal: Journal, settings: SavedSettings, client: BybitClient) -> None:
        self.journal, self.settings, self.client = journal, settings, client
        self.account = AccountCheck()  # read at start: unsupported settings stop new entries
        self.held: str | None = None  # a reason that holds new entries (e.g. the chat is unreachable)
        self._marked: date | None = None  # the last day whose starting equity is known to be recorded

    def fee_rate(self, symbol: str) -> Decimal:
        """The taker rate for sizing: the exchange's fee-rate endpoint as read at start, else the config."""
        return self.account.taker_fees.get(symbol, self.settings.risk.taker_fee_rate)

    def maker_fee_rate(self, symbol: str) -> Decimal:
        """The maker rate (a PostOnly entry, a limit take-profit): the exchange's as read at start, else the config."""
        return self.account.maker_fees.get(symbol, self.settings.risk.maker_fee_rate)

    def sizing_fees(self, symbol: str) -> SizingFees:
        """The rates a new entry is sized with, by ``[execution]``: maker first prices the entry and the take-profit
        at the maker rate; the stop is always a taker fill."""
        taker = self.fee_rate(symbol)
        if not self.settings.cfg.execution.maker:
            return SizingFees(taker, taker, taker)
        maker = self.maker_fee_rate(symbol)
        return SizingFees(taker, maker, maker)

    async def available(self, now: datetime) -> Decimal:
        """The available balance for sizing."""
        return (await self.client.wallet()).available

    async def mark_day(self, now: datetime) -> None:
        """The day's starting equity for the daily-loss limit, read by the first tick that sees a new UTC day on the
        market clock (``now``): the equity at 00:00, not whenever the day's first signal came. Kept once."""
        day = now.date()
        if self._marked == day:
            return
        if await self.settings.day_start_equity(day) is None:
            try:
                wallet = await self.client.wallet()
            except ExchangeError as exc:  # the next tick tries again; until then the limit has no base (no trip)
                log.warning("the day's starting equity could not be read (%s); the next tick retries", exc)
                return
            await self.settings.record_day_start(day, wallet.total_equity or wallet.wallet_balance)
        self._marked = day

    async def block(self, symbol: str, now: datetime) -> EntryBlock | None:
        """Why a new entry on ``symbol`` is not allowed now (None = allowed)."""
        await self.settings.ensure_loaded()  # a pause saved by the previous run holds even before start() worked
        if self.account.refusal:
            return EntryBlock(BlockKind.ACCOUNT, self.account.refusal)
        if self.held:
            return EntryBlock(BlockKind.HELD, self.held)
        if self.settings.paused:
            return EntryBlock(BlockKind.PAUSED, "the bot is paused (/resume to allow entries)")
        if not self.settings.watched(symbol):
            return EntryBlock(BlockKind.HELD, f"{symbol} is not on the watch list any more (/symbols add {symbol})")
        view = await self.journal.trades.entry_view(symbol, since=now - timedelta(days=7))
        if view.has_open:
            return EntryBlock(BlockKind.OPEN, f"a {symbol} position is already open")
        n_open = view.open_count
        recent = [ClosedTradeView(t.symbol, t.exit_time, t.pnl or ZERO) for t in view.recent if t.exit_time is not None]
        risk = self.settings.risk
        if n_open >= risk.max_open_positions:
            return EntryBlock(BlockKind.MAX_OPEN, f"max open positions reached ({n_open}/{risk.max_open_positions})")
        prot = protection_state(recent, symbol=symbol, now=now,
                                balance_start_of_day=await self.settings.day_start_equity(now.date()),
                                params=risk, open_positions=n_open, losses_reset_at=self.settings.losses_reset_at)
        if not prot.entries_allowed:
            return EntryBlock(BlockKind.PROTECTION, "; ".join(prot.reasons))
        return None
