"""Chaos run: the engine (confirm mode, every card approved) trades a replayed zigzag over HTTP while faults fire.

The simulator serves on 127.0.0.1; the engine's BybitClient has a short timeout and latency spikes go past it.
Faults: latency, HTTP 5xx, 10006, dropped connections, and "executed but the response was lost" (with an
extra rate on /v5/order/create and /v5/position/trading-stop, the two calls where a lost answer matters).
The harness drives prices in-process (``sim.set_price`` / ``sim.step``, never faulted) so every trade ends on
a real exchange TP, SL, break-even stop or trailed stop.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from proving.sim import BookParams, Simulator
from proving.sim.faults import FaultDecision
from storage.db import init_db, make_engine
from storage.journal import Journal
from tests.engine.conftest import KEY, SECRET, SYMBOL, ema_only
from tests.pinned import OLD_STOPS
from tests.recorder import Recorder
from tests.reliability.audit import Audit, audit, settle_problems, unprotected
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.events import ConfirmationNeeded
from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
from tradebot.sizing.execution import MARKET_ENTRIES
from tradebot.sizing.risk import RiskParams
from tradebot.tick.engine import TradingEngine

CRITICAL_PATHS = ("/v5/order/create", "/v5/position/trading-stop")


def zigzag_rows(n: int, *, start: float = 50000.0, step: float = 20.0, leg: int = 45, rng: float = 200.0,
                t0: int = 1_750_000_000_000, interval_ms: int = 300_000) -> list[tuple[int, str, ...]]:
    """Candles trending up for ``leg`` bars then down: longs and shorts. Each bar spans ±``rng`` around
    its body, so the harness's price excursions (fractions of an ATR) stay inside the bar and ATR stays put."""
    rows, prev = [], start
    for i in range(n):
        close = prev + (step if (i // leg) % 2 == 0 else -step)
        hi, lo = max(prev, close) + rng, min(prev, close) - rng
        rows.append((t0 + i * interval_ms, f"{prev:.1f}", f"{hi:.1f}", f"{lo:.1f}", f"{close:.1f}", "10"))
        prev = close
    return rows


def chaos_config(db_url: str = "sqlite://", **risk: Any) -> Config:
    bot = BotSettings(symbols=[SYMBOL], interval="5", candles=120, mode="confirm", unknown_position_wait_seconds=0,
                      confirmation_expiry_seconds=600, reconcile_minutes=0.1, max_price_drift_atr=0.5)
    r = RiskParams.model_validate({**OLD_STOPS, 
        "trailing_mode": "bot", "cooldown_minutes": 0, "max_consecutive_losses": 0, "daily_loss_limit_pct": 100,
        "risk_pct": "0.2", "sl_atr": "0.25", "tp_atr": "0.4", "breakeven_trigger_atr": "0.15",
        "breakeven_offset_atr": "0.03", "trail_trigger_atr": "0.25", "trail_atr": "0.1", **risk})
    env = EnvSettings(DATABASE_URL=db_url)
    return Config(env=env, file=FileConfig(execution=MARKET_ENTRIES, bot=bot, risk=r, strategy=ema_only()), source="chaos", demo=True)


@dataclass
class FaultPlan:
    """Fault rates (each ≥ a few %); ``critical_lost`` is the extra lost-response rate on create/trading-stop."""

    latency_prob: float = 0.03
    latency_ms: float = 450
    http5xx_prob: float = 0.03
    rate_limit_prob: float = 0.02
    drop_prob: float = 0.02
    lost_response_prob: float = 0.02
    critical_lost: float = 0.12
    client_timeout: float = 0.3
    seed: int = 7

    def sim_config(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms if self.latency_prob > 0 else 0, "latency_prob": self.latency_prob,
                "http5xx_prob": self.http5xx_prob, "rate_limit_prob": self.rate_limit_prob,
                "drop_prob": self.drop_prob, "lost_response_prob": self.lost_response_prob, "seed": self.seed}


class FaultCounter:
    """Wraps ``sim.faults.decide``: counts every /v5 request and every fault by kind and path."""

    def __init__(self, sim: Simulator, plan: FaultPlan) -> None:
        self.requests = self.faulted = 0
        self.by_kind: Counter[str] = Counter()
        self.by_path: Counter[str] = Counter()
        self._orig, self._plan = sim.faults.decide, plan
        self._rng = random.Random(plan.seed + 1)
        sim.faults.decide = self.decide  # type: ignore[method-assign]

    def decide(self, path: str) -> FaultDecision:
        out = self._orig(path)
        if path.startswith("/sim/"):
            return out
        self.requests += 1
        if out.kind is None and path in CRITICAL_PATHS and self._rng.random() < self._plan.critical_lost:
            out.kind = "lost_response"
        self.faulted += bool(out.latency_s or out.kind)
        if out.latency_s:
            self.by_kind["latency>timeout"] += 1
        if out.kind:
            self.by_kind[out.kind] += 1
            self.by_path[f"{out.kind} {path}"] += 1
        return out

    def rate(self) -> float:
        """Share of /v5 requests that got at least one fault."""
        return self.faulted / max(1, self.requests)


@dataclass
class ChaosFigures:
    trades_target: int
    bars: int = 0
    ticks: int = 0
    ticks_ok: int = 0
    ticks_failed: int = 0
    ticks_returned: int = 0
    approvals: Counter[str] = field(default_factory=Counter)
    unprotected_checks: int = 0
    unprotected_after_tick: list[str] = field(default_factory=list)
    scenarios: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    critical_faults: dict[str, int] = field(default_factory=dict)
    fault_rate: float = 0.0
    seconds: float = 0.0
    audit: Audit | None = None
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        a = self.audit
        out = [
            f"closed trade cycles: {a.trades_closed if a else 0} (target {self.trades_target}) over {self.bars} bars",
            f"ticks: {self.ticks} started, {self.ticks_returned} returned ({self.ticks_failed} reported an error)",
            f"approvals: {dict(sorted(self.approvals.items()))}",
            f"exit scenarios driven: {dict(sorted(self.scenarios.items()))}",
            f"/v5 requests: {self.requests}; with a fault: {self.fault_rate:.1%}",
            f"faults by kind: {dict(sorted(self.faults.items()))}",
            f"faults on create / trading-stop: {dict(sorted(self.critical_faults.items()))}",
            f"position checks after each tick/approve: {self.unprotected_checks}; "
            f"unprotected at the end of a tick: {len(self.unprotected_after_tick)}",
        ]
        out += [f"{k}: {v}" for k, v in (a.figures() if a else {}).items()]
        out += [f"wall time: {self.seconds:.1f} s", f"problems: {self.problems or 'none'}"]
        return out


class ChaosRun:
    """One chaos session; ``await run()`` returns the figures (``problems`` empty = every invariant held)."""

    def __init__(self, trades: int, *, plan: FaultPlan | None = None, db_path: Path | None = None,
                 seed: int = 1, max_bars: int | None = None) -> None:
        self.target, self.plan, self.seed = trades, plan or FaultPlan(), seed
        self.max_bars = max_bars or trades * 4 + 40
        bars = self.max_bars + 200
        self.sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: zigzag_rows(bars + 150)}, warmup=150,
                             rate_limits=False, book=BookParams.zero(), api_key=KEY, api_secret=SECRET,
                             balance=Decimal("10000"))
        url = f"sqlite:///{db_path}" if db_path else "sqlite://"
        self.db = make_engine(url)
        init_db(self.db)
        self.cfg = chaos_config(url)
        self.rng = random.Random(seed)
        self.fig = ChaosFigures(trades)
        self.events = Recorder()

    def _pos(self) -> dict[str, Any] | None:
        ps = [p for p in self.sim.state()["positions"] if Decimal(p["size"] or "0") > 0]
        return ps[0] if ps else None

    def _check(self, where: str) -> None:
        self.fig.unprotected_checks += 1
        bad = unprotected(self.sim.state())
        if bad:
            self.fig.unprotected_after_tick.append(f"{where}: {bad}")

    async def _tick(self, engine: TradingEngine) -> None:
        self.fig.ticks += 1
        status = await engine.tick(SYMBOL)
        self.fig.ticks_returned += 1
        self.fig.ticks_ok += status.ok
        self.fig.ticks_failed += not status.ok
        self._check(f"tick {self.fig.ticks}")
        await self._approve_all(engine)

    async def _approve_all(self, engine: TradingEngine) -> None:
        """The auto-approver: every ConfirmationNeeded is approved once (a stale re-ask is approved too)."""
        while self._queue:
            card = self._queue.pop(0)
            try:
                out = await engine.desk.approve(card.confirmation_id, user_id=4242)
                self.fig.approvals[out.status] += 1
            except Exception as exc:  # approve is called by a chat handler: record, keep going
                self.fig.approvals[f"raised {type(exc).__name__}"] += 1
            self._check(f"approve {card.confirmation_id}")

    async def _exit(self, engine: TradingEngine) -> None:
        """Drive the price so the open position ends on an exchange-side TP / SL / BE stop / trailed stop."""
        pos = self._pos()
        if pos is None:
            return
        sign = Decimal(1 if pos["side"] == "Buy" else -1)
        entry = Decimal(pos["avgPrice"])
        atr = engine.market.atrs.get(SYMBOL) or Decimal(400)
        kind = self.rng.choice(("take_profit", "stop_loss", "breakeven", "trail", "wiggle"))
        self.fig.scenarios[kind] += 1
        if kind in ("breakeven", "trail", "wiggle"):
            moves = {"breakeven": ["0.2"], "trail": ["0.2", "0.3", "0.35"], "wiggle": ["0.1", "-0.1", "0.05"]}[kind]
            for m in moves:
                self.sim.set_price(SYMBOL, entry + sign * atr * Decimal(m))
                await self._tick(engine)
        for _ in range(3):  # hit a stop (or the TP) on the exchange
            pos = self._pos()
            if pos is None:
                break
            if kind == "take_profit" and Decimal(pos["takeProfit"] or "0") > 0:
                target = Decimal(pos["takeProfit"]) + sign * 10
            else:
                stop = Decimal(pos["stopLoss"] or "0") or entry - sign * atr * Decimal("0.3")
                target = stop - sign * 10
            self.sim.set_price(SYMBOL, target)
        for _ in range(4):  # let the bot journal the close (closed-pnl lookups may themselves be faulted)
            await self._tick(engine)
            if self._journal_flat():
                break

    def _journal_flat(self) -> bool:
        from storage.db import session_scope
        from storage.trades import open_trades

        with session_scope(self.db) as s:
            return not open_trades(session=s)

    async def run(self) -> ChaosFigures:
        t0 = time.monotonic()
        server = self.sim.serve("127.0.0.1", 0)  # TCP_NODELAY, quiet client disconnects
        counter = FaultCounter(self.sim, self.plan)
        self.sim.faults.configure(**self.plan.sim_config())

        async def fast_sleep(s: float) -> None:  # back-off honoured, but compressed to keep the run short
            await asyncio.sleep(min(s, 0.05))

        client = BybitClient(server.url, KEY, SECRET, timeout=self.plan.client_timeout,
                             retry=RetryPolicy(attempts=4, base_delay=0.02), sleep=fast_sleep)
        engine = TradingEngine(self.cfg, client, Journal(self.db))
        engine.bus.subscribe(self.events)
        self._queue: list[ConfirmationNeeded] = []
        engine.bus.subscribe(lambda e: self._queue.append(e) if isinstance(e, ConfirmationNeeded) else None)
        await self._setup(engine)
        try:
            while self.fig.bars < self.max_bars:
                await self._tick(engine)  # new closed bar: signal → card → approved → entry
                await self._exit(engine)
                if self._closed() >= self.target:
                    break
                if not self.sim.step(1):
                    break
                self.fig.bars += 1
                await self._bar()
            self.sim.faults.configure()  # settle: the bot catches up without faults, then the books must agree
            await self._settle()
            for _ in range(3):
                await self._tick(engine)
                await engine.reconcile()
        finally:
            await self._teardown()
            await client.aclose()
            server.close()
        self.fig.seconds = time.monotonic() - t0
        self.fig.requests = counter.requests
        self.fig.faults = dict(counter.by_kind)
        self.fig.critical_faults = {k: v for k, v in counter.by_path.items() if k.split()[1] in CRITICAL_PATHS}
        self.fig.fault_rate = counter.rate()
        self.fig.audit = audit(self.sim.state(), self.db)
        self.fig.problems = settle_problems(self.fig.audit)
        if self.fig.unprotected_after_tick:
            self.fig.problems.append(f"unprotected at the end of a tick: {self.fig.unprotected_after_tick[:5]}")
        if self.fig.ticks_returned != self.fig.ticks:
            self.fig.problems.append("a tick did not return")
        self.sim.close()
        self.db.dispose()
        return self.fig

    def _closed(self) -> int:
        return len(self.sim.state()["closed_pnl"])

    # hooks for variants (stream chaos): after the engine is built, after each bar, before the final settle, at the end
    async def _setup(self, engine: TradingEngine) -> None:
        return None

    async def _bar(self) -> None:
        return None

    async def _settle(self) -> None:
        return None

    async def _teardown(self) -> None:
        return None
