"""MarketReader: what one tick reads from the exchange (signal snapshot, higher-timeframe cache, market clock)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd

from tradebot.bybit.client import BybitClient
from tradebot.errors import ExchangeError
from tradebot.market import frame_from_rows
from tradebot.sizing.instruments import Instrument
from tradebot.strategy import Signal, StrategyParams, compute_signal
from tradebot.timeutil import interval_delta, interval_ms, ms_to_datetime


@dataclass(frozen=True)
class Snapshot:
    """What one tick reads from the exchange: the signal, the current price and the last closed bar."""

    signal: Signal
    price: Decimal
    bar_high: Decimal
    bar_low: Decimal
    bar_start: datetime


class MarketReader:
    """Reads candles into signals and remembers what it saw: instruments, last signals and ATRs, market time."""

    def __init__(self, client: BybitClient, interval: str, candles: int, strategy: Callable[[], StrategyParams],
                 clock: Callable[[], datetime]) -> None:
        self.client, self.interval, self.candles, self.strategy, self.clock = client, interval, candles, strategy, clock
        self.instruments: dict[str, Instrument] = {}
        self.atrs: dict[str, Decimal] = {}
        self.last_signals: dict[str, Signal] = {}
        self.market_now: dict[str, datetime] = {}
        self._htf_cache: dict[tuple[str, str], tuple[int, pd.DataFrame]] = {}  # → (valid until ms, closed frame)

    # ------------------------------------------------------------------ market clock

    def now_for(self, symbol: str | None = None) -> datetime:
        """The exchange's market time (what trade times are stamped with); the wall clock on a live exchange."""
        if symbol and symbol in self.market_now:
            return self.market_now[symbol]
        return max(self.market_now.values(), default=None) or self.clock()

    def _observe_market_time(self, symbol: str, forming_start_ms: int) -> datetime:
        """A replayed feed (simulator, demo) runs on its own clock: follow it when it is far from the wall clock."""
        wall = self.clock()
        start = ms_to_datetime(forming_start_ms)
        self.market_now[symbol] = wall if abs(wall - start) <= 2 * interval_delta(self.interval) else start
        return self.market_now[symbol]

    # ------------------------------------------------------------------ reads

    async def instrument(self, symbol: str) -> Instrument:
        """The symbol's trading rules, loaded once (again later if the exchange was down at start)."""
        if symbol not in self.instruments:
            self.instruments[symbol] = await self.client.instrument(symbol)
        return self.instruments[symbol]

    def remember(self, signal: Signal) -> None:
        self.last_signals[signal.symbol] = signal
        self.atrs[signal.symbol] = signal.atr

    async def snapshot(self, symbol: str) -> Snapshot:
        """Signal on CLOSED candles (Bybit's newest kline row is the forming one), the price and the last bar."""
        params = self.strategy()
        klines = await self.client.klines(symbol, self.interval, limit=self.candles)
        if len(klines) < 2:
            raise ExchangeError(f"{symbol}: not enough candles from the exchange ({len(klines)})")
        forming, closed = klines[-1], klines[:-1]
        self._observe_market_time(symbol, forming.start_ms)
        df = frame_from_rows(k.as_row() for k in closed)
        htf: dict[str, pd.DataFrame] = {}
        for h in params.higher_timeframes:
            htf[h.interval] = await self._htf_frame(symbol, h.interval, h.period, forming.start_ms)
        book = None
        if params.orderbook.enabled:
            ob = await self.client.orderbook(symbol, limit=max(params.orderbook.depth, 1))
            book = {"bids": list(ob.bids), "asks": list(ob.asks)}
        bar = closed[-1]
        return Snapshot(compute_signal(symbol, df, params, book=book, htf=htf), forming.close, bar.high, bar.low,
                        ms_to_datetime(bar.start_ms))

    async def _htf_frame(self, symbol: str, interval: str, period: int, now_ms: int) -> pd.DataFrame:
        """Closed higher-timeframe candles; refetched only once the forming HTF candle has closed."""
        cached = self._htf_cache.get((symbol, interval))
        if cached is not None and now_ms < cached[0]:
            return cached[1]
        rows = await self.client.klines(symbol, interval, limit=min(1000, max(3 * period, 60)))
        step = interval_ms(interval)
        valid_until = rows[-1].start_ms + step if rows and step else 0  # monthly candles: always refetch
        frame = frame_from_rows(k.as_row() for k in rows[:-1])
        self._htf_cache[(symbol, interval)] = (valid_until, frame)
        return frame
