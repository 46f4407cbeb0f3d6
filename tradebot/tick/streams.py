"""Bybit streams → engine: a candle close ticks its symbol at once, a flat position is journaled at once, a ticker
price moves an open trade's stop (break-even, trailing) at once; REST stays."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tradebot.bybit.stream import (
    PRIVATE_PATH,
    PUBLIC_PATH,
    Backoff,
    Candle,
    Executions,
    Positions,
    StreamConnection,
    StreamEvent,
    StreamStatus,
    StreamURLs,
    TickerUpdate,
    kline_topic,
    private_stream,
    public_stream,
    resolve_stream_urls,
    stream_urls,
    ticker_topic,
)
from tradebot.care.realtime import MANAGE_EVERY_S, LiveStops, PriceSpan
from tradebot.errors import ExchangeError
from tradebot.events import Health
from tradebot.paper import PaperExchange
from tradebot.tick.engine import TradingEngine

log = logging.getLogger("tradebot.tick.streams")
SETTLE_DELAYS = (0.0, 0.25, 0.5, 1.0)  # closed-pnl can trail the position message; fewer tries than the close wait


class JobKind(StrEnum):
    """What a stream event asks of a symbol: a tick (a closed candle), journaling a close (a flat position), or managing an open trade's stop (a ticker price)."""

    TICK = "tick"
    SETTLE = "settle"
    MANAGE = "manage"


@dataclass
class _Job:
    task: asyncio.Task[None] | None = None
    again: bool = False


class StreamRunner:
    """Feeds the engine from the public (kline) and private (order/execution/position/wallet) streams.

    Exactly-once is the journal's job: a close seen on the stream and again by a REST tick is journaled by
    ``PositionManager.record_close`` (``close_trade`` is idempotent per closing order), so it alerts once.
    """

    def __init__(self, engine: TradingEngine, urls: StreamURLs, api_key: str, api_secret: str, *,
                 grace_seconds: float, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine, self.cfg = engine, engine.cfg
        self.grace_seconds, self.clock = grace_seconds, clock
        bot = self.cfg.bot
        self.symbols = set(bot.symbols)
        topics = [kline_topic(bot.interval, s) for s in bot.symbols] + [ticker_topic(s) for s in bot.symbols]
        self.public = public_stream(urls.public, topics, self.on_event, on_connect=self._public_connected,
                                    backoff=backoff)
        self.live = LiveStops(engine)  # break-even and trailing from the ticker's prices
        self._prices: dict[str, PriceSpan] = {}
        self.private = private_stream(urls.private, api_key, api_secret, self.on_event,
                                      on_connect=self._private_connected, backoff=backoff)
        self._jobs: dict[tuple[str, JobKind], _Job] = {}
        self._alerted: set[str] = set()
        self._started = clock()
        self._watch: asyncio.Task[None] | None = None
        self.events_seen = 0
        self.on_stop: Callable[[], None] | None = None  # e.g. closing an in-process simulator's stream server

    @property
    def streams(self) -> tuple[StreamConnection, StreamConnection]:
        return self.public, self.private

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self._started = self.clock()
        for s in self.streams:
            s.start()
        self._watch = asyncio.create_task(self._watchdog(), name="stream-health")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for s in self.streams:
            await s.stop()
        for job in self._jobs.values():
            if job.task is not None:
                job.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await job.task
        if self.on_stop is not None:
            self.on_stop()

    # -- what the REST loop asks ------------------------------------------------------------------
    def healthy(self) -> bool:
        return all(s.state == "live" for s in self.streams)

    def idle(self) -> bool:
        """Nothing in flight: no connect hook (reconcile) and no tick/settle/manage job running."""
        return not any(s.hooks_running for s in self.streams) and all(
            j.task is None or j.task.done() for j in self._jobs.values())

    def healthy_period(self) -> float:
        """REST tick period while both streams are live: the reconcile period (never shorter than the loop)."""
        return max(self.cfg.bot.loop_seconds, self.cfg.bot.reconcile_minutes * 60)

    def rest_tick_due(self, symbol: str) -> bool:
        """Whether the REST tick job should run now: always while a stream is down, else once per healthy period."""
        if not self.healthy():
            return True
        last = self.engine.last_ticks.get(symbol)
        if last is None:
            return True
        age = (self.engine.clock() - last.time).total_seconds()
        return age >= self.healthy_period() + self.cfg.bot.loop_seconds / 2  # a candle-close tick resets it

    def statuses(self) -> list[StreamStatus]:
        return [s.status() for s in self.streams]

    # -- events -----------------------------------------------------------------------------------
    async def on_event(self, ev: StreamEvent) -> None:
        self.events_seen += 1
        if isinstance(ev, Candle):
            if ev.confirm and ev.interval == self.cfg.bot.interval and ev.symbol in self.symbols:
                self._schedule(ev.symbol, JobKind.TICK)
        elif isinstance(ev, TickerUpdate):
            price, symbol = ev.ticker.last_price, ev.ticker.symbol
            if symbol in self.symbols and price > 0:
                span = self._prices.get(symbol)
                if span is None:
                    self._prices[symbol] = PriceSpan(price, price, price)
                else:
                    span.add(price)
                self._schedule(symbol, JobKind.MANAGE)
        elif isinstance(ev, Positions):
            for p in ev.rows:
                self.live.saw_position(p.symbol, p.stop_loss if p.is_open else None)
                if p.symbol in self.symbols and not p.is_open:
                    self._schedule(p.symbol, JobKind.SETTLE)
        elif isinstance(ev, Executions):
            for e in ev.rows:
                self.live.forget(e.symbol)
                if e.symbol in self.symbols and e.closed_size > 0:
                    self._schedule(e.symbol, JobKind.SETTLE)

    def _schedule(self, symbol: str, kind: JobKind) -> None:
        """One job per (symbol, kind) at a time; a request while it runs makes it run once more after."""
        job = self._jobs.setdefault((symbol, kind), _Job())
        if job.task is not None and not job.task.done():
            job.again = True
            return
        job.task = asyncio.create_task(self._run(symbol, kind, job), name=f"stream-{kind}-{symbol}")

    async def _run(self, symbol: str, kind: JobKind, job: _Job) -> None:
        while True:
            job.again = False
            started = self.clock()
            try:
                if kind == JobKind.TICK:
                    await self.engine.tick(symbol)  # never raises; errors become events
                elif kind == JobKind.MANAGE:
                    await self._manage(symbol)
                else:
                    await self.settle(symbol)
            except Exception:
                log.exception("stream %s for %s failed (the REST tick will catch up)", kind, symbol)
            if not job.again:
                return
            if kind == JobKind.MANAGE:  # paced: the prices that came meanwhile are taken together
                await asyncio.sleep(max(0.0, MANAGE_EVERY_S - (self.clock() - started)))

    async def _manage(self, symbol: str) -> None:
        """Break-even/trailing for the prices seen since the last run (nothing to do without an open trade)."""
        span = self._prices.pop(symbol, None)
        if span is not None and self.engine.started:
            await self.live.on_prices(symbol, span)

    async def settle(self, symbol: str) -> bool:
        """Journal a close the stream reported, as soon as the exchange's closed-pnl shows it. True when done."""
        for delay in SETTLE_DELAYS:  # the open trade is read under the symbol's lock (one journal read per try)
            if delay:
                await asyncio.sleep(delay)
            if await self.engine.journal_close(symbol, None):
                return True
        log.warning("%s: flat on the exchange but its closed-PnL is not visible yet; the REST tick will journal it",
                    symbol)
        return False

    # -- reconnects and health --------------------------------------------------------------------
    async def _public_connected(self, n: int) -> None:
        if n > 1:  # candle closes may have been missed while disconnected
            for symbol in sorted(self.symbols):
                self._schedule(symbol, JobKind.TICK)

    async def _private_connected(self, n: int) -> None:
        """Every (re)connect: reconcile through REST what may have happened while no message could arrive."""
        if not self.engine.started:
            return
        try:
            await self.engine.reconcile()
        except ExchangeError as exc:
            log.warning("reconcile after the private stream connected failed: %s (the REST tick retries)", exc)
        for symbol in sorted(self.symbols):
            self._schedule(symbol, JobKind.SETTLE)

    async def check_health(self) -> None:
        """One alert when a stream has been down longer than the grace, one when it is back."""
        for st in self.statuses():
            if st.state == "live":
                if st.name in self._alerted:
                    self._alerted.discard(st.name)
                    await self.engine.bus.emit(Health(f"The {st.name} stream is back: real-time updates resumed."))
                continue
            down = st.down_for if st.down_for is not None else self.clock() - self._started
            if down > self.grace_seconds and st.name not in self._alerted and st.state != "stopped":
                self._alerted.add(st.name)
                await self.engine.bus.emit(Health(
                    f"The {st.name} stream has been down for {int(down)} s ({st.error or 'no connection'}). "
                    f"Trading continues on REST polling every {self.cfg.bot.loop_seconds:g} s; fills and stops "
                    "are still journaled, only later."))

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.check_health()
            except Exception:
                log.exception("stream health check failed")


def describe(st: StreamStatus) -> str:
    """``public live, last message 0.4 s ago`` — a line for /status."""
    age = "no message yet" if st.last_message_age is None else f"last message {st.last_message_age:.1f} s ago"
    extra = f", down {int(st.down_for)} s ({st.error})" if st.state == "down" and st.down_for is not None else ""
    return f"{st.name} {st.state}, {age}{extra}" + (f", {st.reconnects} reconnects" if st.reconnects else "")


async def start_streams(engine: TradingEngine, env: str, api_key: str, api_secret: str,
                        sim: PaperExchange | None = None) -> StreamRunner:
    """Start the streams for ``env`` (mainnet/testnet/demo/a simulator URL), or an in-process simulator's."""
    if sim is not None:
        server = await asyncio.to_thread(sim.serve_streams)
        urls = StreamURLs(server.url + PUBLIC_PATH, server.url + PRIVATE_PATH)
        if api_key not in sim.api_keys:  # the in-process simulator's own account
            api_key, api_secret = next(iter(sim.api_keys.items()))
    else:
        server = None
        urls = await resolve_stream_urls(env) if env.startswith("http") else stream_urls(env)
    runner = StreamRunner(engine, urls, api_key, api_secret, grace_seconds=engine.cfg.bot.stream_grace_seconds)
    if server is not None:
        runner.on_stop = server.close
    runner.start()
    return runner
