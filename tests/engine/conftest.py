"""Engine fixtures: the in-process simulator replaying hand-made candles, a SQLite journal, an EMA-only strategy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from proving.sim import BookParams, Simulator
from storage.journal import Journal
from tests.journals import db_params, journal
from tests.pinned import OLD_STOPS
from tests.recorder import Recorder
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
from tradebot.sizing.execution import MARKET_ENTRIES
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams
from tradebot.tick.engine import TradingEngine

KEY, SECRET = "engine-key", "engine-secret"
SYMBOL = "BTCUSDT"
OFF = ("sma", "rsi", "stochrsi", "macd", "bbands", "adx", "cci", "willr", "mfi", "obv", "sar", "roc", "keltner",
       "patterns", "vwap", "volume")


def ema_only(threshold: float = 0.5) -> StrategyParams:
    data: dict[str, Any] = {name: {"enabled": False} for name in OFF}
    data |= {"threshold": threshold, "higher_timeframes": [], "orderbook": {"enabled": False},
             "ema": {"enabled": True, "weight": 1.0, "fast": 5, "slow": 20}}
    return StrategyParams.model_validate(data)


def trend_rows(n: int, start: float = 50000.0, step: float = 5.0, rng: float = 15.0, t0: int = 1_750_000_000_000,
               interval_ms: int = 300_000) -> list[tuple[int, str, str, str, str, str]]:
    rows, prev = [], start
    for i in range(n):
        close = start + step * (i + 1)
        hi, lo = max(prev, close) + rng, min(prev, close) - rng
        rows.append((t0 + i * interval_ms, f"{prev:.1f}", f"{hi:.1f}", f"{lo:.1f}", f"{close:.1f}", "10"))
        prev = close
    return rows


def make_config(*, mode: str = "confirm", trailing: str = "bot", **risk: Any) -> Config:
    bot = BotSettings(symbols=[SYMBOL], interval="5", candles=200, mode=mode, unknown_position_wait_seconds=0,
                      confirmation_expiry_seconds=600)
    r = RiskParams.model_validate({**OLD_STOPS, "trailing_mode": trailing, "cooldown_minutes": 0, **risk})
    return Config(env=EnvSettings(), file=FileConfig(execution=MARKET_ENTRIES, bot=bot, risk=r, strategy=ema_only()), source="test", demo=True)


class Rig:
    """Simulator + client + engine + event recorder, wired like the real app."""

    def __init__(self, sim: Simulator, cfg: Config, db: Any, url: str | None = None) -> None:
        self.sim, self.cfg, self.db = sim, cfg, db
        transport = None if url else sim.transport()
        self.client = BybitClient(url or "http://sim.local", KEY, SECRET, transport=transport,
                                  retry=RetryPolicy(attempts=4, base_delay=0.0))
        self.journal = Journal(db)
        self.engine = TradingEngine(cfg, self.client, self.journal)
        self.events = Recorder()
        self.engine.bus.subscribe(self.events)

    def price(self) -> Decimal:
        return Decimal(self.sim.state()["prices"][SYMBOL]) if "prices" in self.sim.state() else Decimal(0)

    def position(self) -> dict | None:
        pos = [p for p in self.sim.state()["positions"] if p["symbol"] == SYMBOL and Decimal(p["size"]) > 0]
        return pos[0] if pos else None

    async def close(self) -> None:
        await self.client.aclose()
        self.journal.close()


@pytest.fixture(params=db_params("sqlite-memory"))
def db(request, tmp_path):
    with journal(request.param, tmp_path) as eng:
        yield eng


@pytest.fixture
def sim():
    s = Simulator(symbols=[SYMBOL], candles={SYMBOL: trend_rows(300)}, warmup=250, rate_limits=False,
                  book=BookParams.zero(), api_key=KEY, api_secret=SECRET, balance=Decimal("10000"))
    yield s
    s.close()


@pytest.fixture
async def make_rig(sim, db):
    rigs: list[Rig] = []

    def build(*, url: str | None = None, **cfg_kw: Any) -> Rig:
        rig = Rig(sim, make_config(**cfg_kw), db, url)
        rigs.append(rig)
        return rig

    yield build
    for r in rigs:
        await r.close()


@pytest.fixture
async def streamed(make_rig: Any, sim: Simulator) -> Any:
    """``await streamed(grace_seconds=…, **rig settings)``: an auto-mode rig started, with a StreamRunner on the
    simulator's WebSocket streams, once they are healthy and the connect hooks' reconcile and settle jobs are done
    (a late one would journal a close the test means to leave to something else)."""
    from tests.waiting import until
    from tradebot.bybit.stream import PRIVATE_PATH, PUBLIC_PATH, Backoff, StreamURLs
    from tradebot.tick.streams import StreamRunner

    server = sim.serve_streams()
    runners: list[StreamRunner] = []

    async def build(grace_seconds: float = 0.3, **kw: Any) -> tuple[Any, StreamRunner]:
        rig = make_rig(mode="auto", **kw)
        await rig.engine.start()
        runner = StreamRunner(rig.engine, StreamURLs(server.url + PUBLIC_PATH, server.url + PRIVATE_PATH), KEY,
                              SECRET, grace_seconds=grace_seconds, backoff=Backoff(0.02, 0.1))
        runner.start()
        runners.append(runner)
        await until(lambda: runner.healthy() and runner.idle())  # the connect reconciles are done, too
        return rig, runner

    yield build
    for r in runners:
        await r.stop()
    server.close()
