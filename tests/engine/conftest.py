"""Engine fixtures: the in-process simulator replaying hand-made candles, a SQLite journal, an EMA-only strategy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from proving.sim import BookParams, Simulator
from storage.journal import Journal
from tests.journals import db_params, journal
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.config import BotSettings, Config, EnvSettings, FileConfig
from tradebot.engine import TradingEngine
from tradebot.events import Recorder
from tradebot.risk import RiskParams
from tradebot.strategy import StrategyParams

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
    r = RiskParams.model_validate({"trailing_mode": trailing, "cooldown_minutes": 0, **risk})
    return Config(env=EnvSettings(), file=FileConfig(bot=bot, risk=r, strategy=ema_only()), source="test", demo=True)


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
