"""The world the model-based test drives: the simulator over HTTP and WebSocket, the real bot wired like the app
(``TradingEngine`` + ``BybitClient`` over HTTP + ``StreamRunner`` on the simulator's streams + ``BotService``),
the person on the website (:mod:`tests.money.person`), and the clocks.

The bot runs on an asyncio loop the world owns: each action runs to completion on it (``run``), then ``settle``
lets the streams deliver what the simulator published and the runner's jobs finish. A restart builds a new
engine, client, streams and journal over the same SQLite journal file, as a new process would.
"""

from __future__ import annotations

import asyncio
import atexit
import random
import shutil
import ssl
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy.engine import Engine

from proving.sim import BookParams, Simulator
from storage.db import init_db, make_engine
from storage.journal import Journal
from tests.engine.conftest import KEY, OFF, SECRET, SYMBOL
from tests.money.person import Website
from tests.pinned import OLD_STOPS
from tests.recorder import Recorder
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.bybit.stream import PRIVATE_PATH, PUBLIC_PATH, Backoff, StreamURLs
from tradebot.chat.service import BotService
from tradebot.market_model.instruments import INSTRUMENTS
from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
from tradebot.sizing.execution import MARKET_ENTRIES
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams
from tradebot.tick.engine import TradingEngine
from tradebot.tick.streams import StreamRunner

T = TypeVar("T")
TLS = ssl.create_default_context()  # loaded once: httpx would load the CA bundle for every client (~0.1 s each)
INTERVAL = "240"  # 4 h candles: a week (Bybit's closed-pnl window) is 42 bars, funding every second bar
BAR_MS = 4 * 3_600_000
T0 = 121_528 * BAR_MS  # 2025-06-15 16:00 UTC, on a funding boundary
WARMUP = 150
INST = INSTRUMENTS[SYMBOL]


def candles(n: int, seed: int = 0) -> list[tuple[int, str, str, str, str, str]]:
    """A quiet random walk around 60,000 (bodies ~150, wicks ~100: ATR ≈ 300)."""
    rng, prev, out = random.Random(seed), 60000.0, []
    for i in range(n):
        close = max(20000.0, prev + rng.gauss(0, 150))
        hi, lo = max(prev, close) + abs(rng.gauss(0, 100)), min(prev, close) - abs(rng.gauss(0, 100))
        out.append((T0 + i * BAR_MS, f"{prev:.1f}", f"{hi:.1f}", f"{lo:.1f}", f"{close:.1f}", "10"))
        prev = round(close, 1)
    return out


CANDLES = candles(WARMUP + 3000)
_TEMPLATE: list[Path] = []  # an empty, migrated journal file, copied for each world (migrating costs ~0.3 s)


def fresh_journal(path: Path) -> None:
    if not _TEMPLATE:
        folder = tempfile.mkdtemp(prefix="money-model-template-")
        atexit.register(shutil.rmtree, folder, True)
        template = Path(folder) / "journal.db"
        db = make_engine(f"sqlite:///{template}")
        init_db(db)
        db.dispose()
        _TEMPLATE.append(template)
    shutil.copyfile(_TEMPLATE[0], path)


def quiet_strategy() -> StrategyParams:
    """RSI alone on a 0/100 band at threshold 1: it votes ±1 only at RSI 0 or 100, so it never signals and every
    entry comes from the machine's own signal rule (the ATR is still computed for sizing and stops)."""
    data: dict[str, Any] = {name: {"enabled": False} for name in (*OFF, "ema")}
    data |= {"threshold": 1.0, "higher_timeframes": [], "orderbook": {"enabled": False},
             "rsi": {"enabled": True, "weight": 1.0, "low": 0.0, "high": 100.0}}
    return StrategyParams.model_validate(data)


@dataclass(frozen=True)
class Setup:
    """What one example's account and config look like (hypothesis generates it)."""

    mode: str = "confirm"
    trailing_mode: str = "bot"
    risk_pct: Decimal = Decimal("1")
    sl_atr: Decimal = Decimal("1.5")
    funding_rate: Decimal = Decimal("0.0001")
    lag: bool = False  # closed-PnL rows are written one management cycle after their fill (Bybit's rows lag)

    def config(self, db_url: str) -> Config:
        bot = BotSettings(symbols=[SYMBOL], interval=INTERVAL, candles=100, mode=self.mode,
                          unknown_position_wait_seconds=0, confirmation_expiry_seconds=300, reconcile_minutes=5,
                          max_price_drift_atr=0.5, stream_grace_seconds=3600)
        risk = RiskParams.model_validate({**OLD_STOPS, 
            "trailing_mode": self.trailing_mode, "risk_pct": self.risk_pct, "sl_atr": self.sl_atr, "tp_atr": "3",
            "breakeven_trigger_atr": "1", "breakeven_offset_atr": "0.1", "trail_trigger_atr": "1.5",
            "trail_atr": "1", "leverage": "10", "cooldown_minutes": 0, "max_consecutive_losses": 0,
            "daily_loss_limit_pct": 100})
        env = EnvSettings(DATABASE_URL=db_url)
        return Config(env=env, file=FileConfig(execution=MARKET_ENTRIES, bot=bot, risk=risk, strategy=quiet_strategy()), source="money",
                      demo=True)


def busy(task: asyncio.Task[Any]) -> bool:
    """Work the streams started: a per-symbol job (``stream-<kind>-<SYMBOL>``: tick, settle, any kind added later)
    or a (re)connect hook (the reconcile after the private stream connects)."""
    name, coro = task.get_name(), getattr(task.get_coro(), "__qualname__", "")
    return (name.startswith("stream-") and name.endswith(f"-{SYMBOL}")) or coro.endswith("._run_hook")


class VirtualClock:
    """The bot's wall clock (cards, expiries, reconcile periods): it moves only when the machine says."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Bot:
    db: Engine
    journal: Journal
    client: BybitClient
    engine: TradingEngine
    runner: StreamRunner
    service: BotService


class World:
    """One example's simulator, bot, person and clocks. ``close()`` at the end."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.tmp = Path(tempfile.mkdtemp(prefix="money-model-world-"))
        self.db_url = f"sqlite:///{self.tmp / 'journal.db'}"
        fresh_journal(self.tmp / "journal.db")
        self.cfg = setup.config(self.db_url)
        self.sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: CANDLES}, warmup=WARMUP, rate_limits=False,
                             book=BookParams.zero(), api_key=KEY, api_secret=SECRET, balance=Decimal("10000"),
                             funding_rate=setup.funding_rate)
        self.http = self.sim.serve("127.0.0.1", 0)
        self.ws = self.sim.serve_streams()
        self.urls = StreamURLs(self.ws.url + PUBLIC_PATH, self.ws.url + PRIVATE_PATH)
        self.loop = asyncio.new_event_loop()
        self.clock = VirtualClock()
        self.alerts = Recorder()  # every event of every bot process: what the chat would have received
        self.web = Website(self.http.url, KEY, SECRET, SYMBOL, INST.qty_step, INST.min_order_qty, TLS)
        self.restarts = 0
        self.bot = self.run(self._boot())
        self.moment_passes()

    def moment_passes(self) -> None:
        """With ``lag``: the rows held back so far are written, and the ones the next step makes lag a cycle."""
        if self.setup.lag:
            self.sim.release_closed_pnl()
            self.sim.lag_closed_pnl()

    # -- the loop -----------------------------------------------------------------------------------
    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 60))

    async def _boot(self) -> Bot:
        db = make_engine(self.db_url)  # migrated already (fresh_journal): a restart only opens it again
        journal = Journal(db)
        transport = httpx.AsyncHTTPTransport(verify=TLS)  # plain HTTP to loopback: no CA bundle to load per client
        client = BybitClient(self.http.url, KEY, SECRET, timeout=10, retry=RetryPolicy(attempts=3, base_delay=0.01),
                             transport=transport)
        engine = TradingEngine(self.cfg, client, journal, clock=self.clock)
        engine.bus.subscribe(self.alerts)
        runner = StreamRunner(engine, self.urls, KEY, SECRET, grace_seconds=3600, backoff=Backoff(0.02, 0.2))
        runner.start()
        bot = Bot(db, journal, client, engine, runner, BotService(self.cfg, engine, client, journal, self.clock))
        if not self.sim.stream_faults.down:
            for _ in range(500):
                if runner.healthy():
                    break
                await asyncio.sleep(0.01)
        return bot

    async def _shutdown(self, bot: Bot) -> None:
        await bot.runner.stop()
        await bot.client.aclose()
        bot.journal.close()
        bot.db.dispose()

    def restart(self) -> None:
        """The process ends (between two of its actions) and a new one starts over the same journal file."""
        self.run(self._shutdown(self.bot))
        self.restarts += 1
        self.bot = self.run(self._boot())

    async def settle(self) -> None:
        """Until the simulator's stream queues are empty and no stream event or stream job moved for two looks
        (bounded: a close whose closed-PnL row lags keeps its settle job waiting, as it would live)."""
        quiet, runner = 0, self.bot.runner
        for _ in range(200):
            seen = runner.events_seen
            await asyncio.sleep(0.003)
            queued = any(not c.queue.empty() for c in list(self.ws.conns))
            jobs = [t for t in asyncio.all_tasks(self.loop) if not t.done() and busy(t)]
            quiet = quiet + 1 if runner.events_seen == seen and not queued and not jobs else 0
            if quiet >= 2:
                return

    async def cycle(self) -> None:
        """One management cycle of the bot (the REST tick: reconcile if due, expiries, sync, stops), then settle."""
        await self.settle()
        await self.bot.engine.tick(SYMBOL)
        await self.settle()

    # -- time ----------------------------------------------------------------------------------------
    def pass_seconds(self, seconds: float) -> None:
        """Wall and market time pass together (the market only until the candle path's next point)."""
        self.clock.advance(seconds)
        self.sim.advance_ms(int(seconds * 1000))

    def pass_bars(self, n: int) -> int:
        """``n`` candles close (their remaining path walked, funding settled on the way); the clock follows."""
        start = self.sim.market_time()
        stepped = self.sim.step(n)
        self.clock.advance((self.sim.market_time() - start) / 1000)
        return stepped

    # -- what the exchange shows ----------------------------------------------------------------------
    def price(self) -> Decimal:
        return self.sim.prices()[SYMBOL]

    def available(self) -> Decimal:
        """The exchange's available balance now (what the bot sizes with)."""
        with self.sim.lock:
            return self.sim.exchange.available()

    def close(self) -> None:
        try:
            self.run(self._shutdown(self.bot))
        finally:
            self.loop.close()
            self.web.close()
            self.ws.close()
            self.http.close()
            self.sim.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
