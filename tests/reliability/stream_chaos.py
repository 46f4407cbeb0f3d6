"""Stream chaos: the REST chaos run with the engine also fed by the simulator's WebSocket streams while they fail.

Stream faults: connections dropped mid-trade (``drop_prob`` on every message), single messages lost, messages
delayed, and the whole stream down (503 at connect, open connections cut) for several minutes of market time at
regular intervals. The REST faults of :class:`ChaosRun` keep firing. Closes are journaled by whoever sees them
first (stream settle, a reconnect's reconcile, or a tick); the audit checks that each is journaled and alerted once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from tests.reliability.chaos import ChaosFigures, ChaosRun
from tradebot.bybit.stream import PRIVATE_PATH, PUBLIC_PATH, Backoff, StreamURLs
from tradebot.events import EntryFilled, PositionClosed
from tradebot.tick.engine import TradingEngine
from tradebot.tick.streams import StreamRunner

KEY_SECRET = ("engine-key", "engine-secret")


@dataclass
class StreamPlan:
    drop_prob: float = 0.03
    lose_prob: float = 0.08
    delay_ms: float = 30
    delay_prob: float = 0.1
    down_every_bars: int = 12
    down_for_bars: int = 5  # 5 × 5m = 25 minutes of market time without streams
    seed: int = 11

    def faults(self, down: bool) -> dict[str, object]:
        return {"drop_prob": self.drop_prob, "lose_prob": self.lose_prob, "delay_ms": self.delay_ms,
                "delay_prob": self.delay_prob, "down": down, "seed": self.seed}


@dataclass
class StreamFigures:
    stream_events: int = 0
    reconnects: int = 0
    down_windows: int = 0
    closes_from_stream: int = 0
    duplicate_close_alerts: int = 0
    duplicate_fill_alerts: int = 0
    extra: list[str] = field(default_factory=list)


class StreamChaosRun(ChaosRun):
    def __init__(self, trades: int, *, stream_plan: StreamPlan | None = None, **kw: object) -> None:
        super().__init__(trades, **kw)  # type: ignore[arg-type]
        self.splan = stream_plan or StreamPlan()
        self.sfig = StreamFigures()
        self.runner: StreamRunner | None = None
        self._down_left = 0

    async def _setup(self, engine: TradingEngine) -> None:
        self.server = self.sim.serve_streams()
        urls = StreamURLs(self.server.url + PUBLIC_PATH, self.server.url + PRIVATE_PATH)
        self.runner = StreamRunner(engine, urls, *KEY_SECRET, grace_seconds=0.5, backoff=Backoff(0.02, 0.2))
        original = self.runner.settle

        async def counted(symbol: str) -> bool:  # which closes the stream journaled first
            before = len(self.events.of(PositionClosed))
            done = await original(symbol)
            self.sfig.closes_from_stream += len(self.events.of(PositionClosed)) - before
            return done

        self.runner.settle = counted  # type: ignore[method-assign]
        self.runner.start()
        self.sim.stream_faults.configure(**self.splan.faults(False))
        async with asyncio.timeout(10):
            while not self.runner.healthy():  # noqa: ASYNC110 - stream state has no event
                await asyncio.sleep(0.01)

    async def _bar(self) -> None:
        await asyncio.sleep(0)  # let stream callbacks run between bars, as a live loop would
        if self._down_left:
            self._down_left -= 1
            if not self._down_left:
                self.sim.stream_faults.configure(**self.splan.faults(False))
        elif self.fig.bars % self.splan.down_every_bars == 0:
            self._down_left = self.splan.down_for_bars
            self.sfig.down_windows += 1
            self.sim.stream_faults.configure(**self.splan.faults(True))

    async def _settle(self) -> None:
        self.sim.stream_faults.clear()
        assert self.runner is not None
        async with asyncio.timeout(10):
            while not self.runner.healthy():  # noqa: ASYNC110 - stream state has no event
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)

    async def _teardown(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
            self.sfig.stream_events = self.runner.events_seen
            self.sfig.reconnects = sum(s.status().reconnects for s in self.runner.streams)
        self.server.close()
        closes = Counter(e.trade_id for e in self.events.of(PositionClosed))
        fills = Counter(e.trade_id for e in self.events.of(EntryFilled))
        self.sfig.duplicate_close_alerts = sum(n - 1 for n in closes.values())
        self.sfig.duplicate_fill_alerts = sum(n - 1 for n in fills.values())

    async def run(self) -> ChaosFigures:
        fig = await super().run()
        s = self.sfig
        fig.problems += s.extra
        if s.duplicate_close_alerts or s.duplicate_fill_alerts:
            fig.problems.append(f"duplicate alerts: {s.duplicate_close_alerts} closes, {s.duplicate_fill_alerts} fills")
        return fig

    def stream_lines(self) -> list[str]:
        s = self.sfig
        return [f"stream events handled: {s.stream_events}; reconnects: {s.reconnects}; down windows: "
                f"{s.down_windows} × {self.splan.down_for_bars} bars",
                f"closes journaled first from the stream: {s.closes_from_stream}",
                f"duplicate alerts: closes {s.duplicate_close_alerts}, fills {s.duplicate_fill_alerts}"]
