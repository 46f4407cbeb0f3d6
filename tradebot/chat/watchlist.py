"""The watch list at run time (/symbols): validated against Bybit's instruments, kept across restarts (the saved
settings), the kline streams subscribed and unsubscribed. No Telegram here: the chat layer (un)schedules ticks.

Two lists: the saved watch list (new entries are allowed there only: ``EntryGate``) and the symbols the bot ticks,
``cfg.bot.symbols`` (every part reads that one list): the watch list plus each symbol removed while its position
was open, managed until that position closes."""

from __future__ import annotations

import logging

from tradebot.bybit.stream.connection import kline_topic
from tradebot.errors import BybitAPIError, ExchangeError, RetryableError, TransportError, UserError
from tradebot.outcome import Outcome
from tradebot.states import OutcomeStatus as OS
from tradebot.tick.engine import TradingEngine
from tradebot.tick.streams import StreamRunner

log = logging.getLogger("tradebot.chat.watchlist")
MAX_SYMBOLS = 50  # as [bot] symbols allows


class WatchList:
    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine
        self.streams: StreamRunner | None = None  # set when the streams run

    @property
    def ticked(self) -> list[str]:
        """The symbols the bot ticks (the one list every part reads, changed in place)."""
        return self.engine.cfg.bot.symbols

    @property
    def watched(self) -> list[str]:
        return self.engine.settings.symbols

    async def leaving(self) -> list[str]:
        """Ticked but off the watch list: an open position is still managed there."""
        return [s for s in self.ticked if s not in self.watched]

    async def restore(self) -> None:
        """At start: tick the saved watch list, and each symbol with an open trade that was removed meanwhile."""
        await self.engine.settings.load()
        if self.engine.settings.row.symbols is None:
            return
        open_symbols = [t.symbol for t in await self.engine.journal.trades.open()]
        wanted = [*self.watched, *(s for s in open_symbols if s not in self.watched)]
        self.ticked[:] = list(dict.fromkeys(wanted))
        log.info("watch list from the journal: %s (ticked: %s)", self.watched, self.ticked)

    async def add(self, symbol: str) -> Outcome:
        if symbol in self.watched:
            return Outcome(OS.NOOP, f"{symbol} is already on the watch list.")
        if len(self.watched) >= MAX_SYMBOLS:
            raise UserError(f"The watch list holds at most {MAX_SYMBOLS} symbols.")
        try:
            inst = await self.engine.client.instrument(symbol)
        except (TransportError, RetryableError) as exc:
            raise UserError(f"Could not check {symbol} with the exchange now ({exc}); try again.") from exc
        except (BybitAPIError, ExchangeError) as exc:
            raise UserError(f"{symbol} is not a Bybit USDT perpetual ({exc}).") from exc
        self.engine.market.instruments[symbol] = inst
        lev = inst.leverage(self.engine.settings.risk.leverage)
        note = ""
        try:
            await self.engine.client.set_leverage(symbol, lev)
        except ExchangeError as exc:
            note = f" Leverage {lev} could not be set ({exc})."
        await self.engine.settings.set_symbols([*self.watched, symbol])
        if symbol not in self.ticked:
            self.ticked.append(symbol)
            await self._subscribe(symbol)
        return Outcome(OS.OK, f"Added {symbol}: watched from the next candle; kept across restarts.{note}")

    async def remove(self, symbol: str) -> Outcome:
        if symbol not in self.watched:
            return Outcome(OS.NOOP, f"{symbol} is not on the watch list ({', '.join(self.watched)}).")
        if len(self.watched) == 1:
            raise UserError("The watch list cannot be empty: add another symbol first.")
        await self.engine.settings.set_symbols([s for s in self.watched if s != symbol])
        if await self.engine.journal.trades.open_for(symbol) is not None or await self._open_on_exchange(symbol):
            return Outcome(OS.OK, f"Removed {symbol}: no new entries there. Its open position is still managed "
                                  "(stop, target, break-even, trailing) until it closes.")
        await self.forget(symbol)
        return Outcome(OS.OK, f"Removed {symbol}: no longer watched; kept across restarts.")

    async def _open_on_exchange(self, symbol: str) -> bool:
        try:
            return any(p.is_open for p in await self.engine.client.positions(symbol))
        except ExchangeError:
            return True  # unknown: keep managing it; the tick after the close lets it go

    async def forget(self, symbol: str) -> None:
        """Stop ticking a symbol off the watch list (its position closed)."""
        if symbol in self.ticked and symbol not in self.watched:
            self.ticked.remove(symbol)
            if self.streams is not None:
                self.streams.symbols.discard(symbol)
                await self.streams.public.unsubscribe([kline_topic(self.engine.cfg.bot.interval, symbol)])

    async def done_with(self, symbol: str) -> bool:
        """After a tick of a symbol off the watch list: True when its position has closed (then it is let go)."""
        if symbol in self.watched or await self.engine.journal.trades.open_for(symbol) is not None:
            return False
        if await self._open_on_exchange(symbol):
            return False
        await self.forget(symbol)
        return True

    async def _subscribe(self, symbol: str) -> None:
        if self.streams is not None:
            self.streams.symbols.add(symbol)
            await self.streams.public.subscribe([kline_topic(self.engine.cfg.bot.interval, symbol)])
