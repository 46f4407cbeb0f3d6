"""Stops managed in real time: each price the public stream brings for a symbol with an open trade is checked
against its break-even and trailing rules (pure, no I/O but a cached journal read); when a stop would move, the
position is synced under the symbol's lock (the REST tick takes the same lock: never two at once per symbol).

The stream runner (``tradebot/tick/streams.py``) paces the calls: one job per symbol, at most one run per
``stream_manage_seconds``, each with the newest price and the highest/lowest seen since the previous run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from storage.models import TradeRecord
from tradebot.care.stops import next_stop, update_best
from tradebot.money import ZERO
from tradebot.side import Side

if TYPE_CHECKING:
    from tradebot.tick.engine import TradingEngine

TRADE_TTL_S = 2.0  # how long a read of the symbol's open trade is trusted (private-stream events drop it sooner)
MANAGE_EVERY_S = 0.25  # at most one stream-driven management run per symbol this often


@dataclass
class PriceSpan:
    """The prices one symbol traded at since its last management run: the newest, the highest and the lowest."""

    last: Decimal
    high: Decimal
    low: Decimal

    def add(self, price: Decimal) -> None:
        self.last, self.high, self.low = price, max(self.high, price), min(self.low, price)


class LiveStops:
    """Break-even and trailing from stream prices; the exchange is touched only when a stop moves."""

    def __init__(self, engine: TradingEngine, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine, self.clock = engine, clock
        self._trades: dict[str, tuple[float, TradeRecord | None]] = {}
        self._stops: dict[str, tuple[float, Decimal | None]] = {}  # symbol → (when, the streamed stop-loss)
        self._best: dict[int, Decimal] = {}  # trade id → best price the stream has shown since the entry
        self._tried: dict[str, tuple[int, Decimal]] = {}  # symbol → (trade id, the last stop a sync was asked for)
        self.moves = 0  # stop moves started from a stream price (for /status and the benchmark)

    def forget(self, symbol: str) -> None:
        """The symbol's trade may have changed (a fill, a position or order update): read it again next time."""
        self._trades.pop(symbol, None)

    def saw_position(self, symbol: str, stop_loss: Decimal | None) -> None:
        """The private stream's position message: the exchange's stop-loss now (None: none, e.g. removed by hand)."""
        seen = self._stops.get(symbol)
        if seen is None or seen[1] != stop_loss:
            self._tried.pop(symbol, None)  # the stop changed (the bot's move, or by hand): judge afresh
        self._stops[symbol] = (self.clock(), stop_loss)
        self.forget(symbol)

    def _current_stop(self, symbol: str, trade: TradeRecord) -> Decimal | None:
        """The exchange's stop-loss as last seen: the private stream's message or the last sync's read, whichever
        is newer (a message lost on the stream is made good by the next REST tick); the journal's before either."""
        seen = [v for v in (self._stops.get(symbol), self.engine.positions.stops_seen.get(symbol)) if v is not None]
        return max(seen, key=lambda v: v[0])[1] if seen else trade.sl

    async def _trade(self, symbol: str) -> TradeRecord | None:
        seen = self._trades.get(symbol)
        now = self.clock()
        if seen is not None and now - seen[0] < TRADE_TTL_S:
            return seen[1]
        trade = await self.engine.journal.trades.open_for(symbol)
        self._trades[symbol] = (now, trade)
        return trade

    async def on_prices(self, symbol: str, span: PriceSpan) -> bool:
        """Manage ``symbol``'s open trade for the prices in ``span``. True when a stop move was attempted."""
        engine = self.engine
        trade = await self._trade(symbol)
        inst = engine.market.instruments.get(symbol)
        if trade is None or trade.id is None or inst is None or not trade.atr or trade.atr <= 0:
            return False
        side = Side(trade.side)
        best = update_best(side, self._best.get(trade.id, trade.best_price),
                           span.high if side is Side.BUY else span.low)
        self._best[trade.id] = best
        upd = next_stop(side=side, entry=trade.entry_price, current_sl=self._current_stop(symbol, trade), best_price=best, last_price=span.last,
                        atr=trade.atr, inst=inst, params=engine.settings.risk, breakeven_done=trade.breakeven_done,
                        fee_rate=engine.gate.fee_rate(symbol))
        if upd is None:
            return False
        tried = self._tried.get(symbol)
        if tried is not None and tried[0] == trade.id and side.sign * (upd.new_sl - tried[1]) < inst.tick_size:
            return False  # asked already and nothing changed since (e.g. the exchange refused it): the tick decides
        self._tried[symbol] = (trade.id, upd.new_sl)
        high, low = (best, None) if side is Side.BUY else (None, best)
        async with engine.locks.symbol(symbol):  # a tick or a close may run now: the sync reads everything again
            await engine.positions.sync(symbol, inst=inst, last_price=span.last, bar_high=high, bar_low=low,
                                        atr=engine.market.atrs.get(symbol, ZERO), now=engine.market.now_for(symbol))
        self.forget(symbol)
        self.moves += 1
        return True
