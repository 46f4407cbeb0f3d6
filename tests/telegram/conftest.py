"""The real Application (offline hub) + handlers + TradingEngine over the in-process simulator and a temp journal."""

from __future__ import annotations

import asyncio
import os
import time

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22.8 warns on int retry_after otherwise

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from handlers.deps import DEPS_KEY, Deps, wall_now
from proving.sim import BookParams, Simulator
from proving.telegram.hub import OfflineTelegram, build_offline_application
from proving.telegram.types import SentMessage
from storage.db import init_db, make_engine, session_scope
from storage.models import AuditLog, OrderRecord
from tests.engine.conftest import KEY, SECRET, SYMBOL, ema_only, trend_rows
from tests.pinned import OLD_STOPS
from tests.waiting import until
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
from tradebot.sizing.execution import MARKET_ENTRIES, ExecutionSettings
from tradebot.sizing.risk import RiskParams
from wiring.app import build_application, shutdown, startup

CHAT = 42
STRANGER = 666


class Clock:
    """Wall time that tests can move forward (confirmation expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def make_cfg(db_url: str, execution: ExecutionSettings = MARKET_ENTRIES, **bot: Any) -> Config:
    settings = BotSettings.model_validate({"symbols": [SYMBOL], "interval": "5", "candles": 200, "mode": "confirm",
                                           "confirmation_expiry_seconds": 600, "loop_seconds": 60,
                                           "unknown_position_wait_seconds": 3600, **bot})
    risk = RiskParams.model_validate({**OLD_STOPS, "trailing_mode": "bot", "cooldown_minutes": 0})
    env = EnvSettings(TELEGRAM_ALLOWED_CHAT_IDS=[CHAT], DATABASE_URL=db_url)
    return Config(env=env, file=FileConfig(execution=execution, bot=settings, risk=risk, strategy=ema_only()), source="test")


@dataclass
class Rig:
    hub: OfflineTelegram
    app: Any
    sim: Simulator
    clock: Clock

    @property
    def deps(self) -> Deps:
        return self.app.bot_data[DEPS_KEY]

    async def send(self, text: str, chat: int = CHAT) -> SentMessage:
        """Push a message and return the bot's first reply to it."""
        before = {m.message_id for m in self.hub.sent(chat)}
        self.hub.push_message(chat, text)
        return await self.hub.wait_for(lambda m: m.chat_id == chat and m.message_id not in before)

    async def replies(self, text: str, chat: int = CHAT) -> list[SentMessage]:
        before = {m.message_id for m in self.hub.sent(chat)}
        self.hub.push_message(chat, text)
        await self.hub.wait_for(lambda m: m.chat_id == chat and m.message_id not in before)
        await self.hub.wait_idle(quiet=0.15)
        return [m for m in self.hub.sent(chat) if m.message_id not in before]

    async def tap(self, message: SentMessage, label: str, chat: int = CHAT) -> None:
        n = len(self.hub.answers)
        self.hub.push_callback(chat, self.hub.button(message, label), message.message_id)
        await self._answered(n)

    async def tap_data(self, message: SentMessage, data: str, chat: int = CHAT, user: int | None = None) -> None:
        n = len(self.hub.answers)
        self.hub.push_callback(chat, data, message.message_id, user_id=user)
        await self._answered(n)

    async def _answered(self, n: int) -> None:
        await self.hub._wait(lambda: True if len(self.hub.answers) > n else None, 5)
        await self.hub.wait_idle(quiet=0.1)

    async def tick(self) -> None:
        """One trading tick, then wait until every alert it queued was delivered (so replies come after them)."""
        await self.deps.engine.tick(SYMBOL)
        await self.delivered()

    async def delivered(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while await self.deps.journal.outbox.due(wall_now() + timedelta(seconds=5), 1):
            assert time.monotonic() < deadline, "outbox not drained"
            await asyncio.sleep(0.02)
        await self.hub.wait_idle(quiet=0.05)

    async def card(self) -> SentMessage:
        """Tick until a confirmation card is delivered; returns it."""
        await self.deps.engine.tick(SYMBOL)
        return await self.hub.wait_for(lambda m: any(d and d.startswith("ap:") for r in m.buttons for _, d in r))

    def orders(self, purpose: str = "entry") -> list[OrderRecord]:
        with session_scope(self.deps.journal.db) as s:
            return list(s.exec(select(OrderRecord).where(OrderRecord.purpose == purpose)).all())

    def audit(self, allowed: bool | None = None) -> list[AuditLog]:
        with session_scope(self.deps.journal.db) as s:
            rows = list(s.exec(select(AuditLog)).all())
        return [r for r in rows if allowed is None or r.allowed == allowed]

    async def audited(self, at_least: int = 1, *, allowed: bool | None = None) -> list[AuditLog]:
        """The audit rows once ``at_least`` are there: the journal writes them on its worker, after the reply."""
        def found() -> list[AuditLog] | None:
            rows = self.audit(allowed)
            return rows if len(rows) >= at_least else None
        return await until(found, limit=10)


def make_sim() -> Simulator:
    return Simulator(symbols=[SYMBOL], candles={SYMBOL: trend_rows(300)}, warmup=250, rate_limits=False,
                     book=BookParams.zero(), api_key=KEY, api_secret=SECRET, balance=Decimal("10000"))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.db'}"


@pytest.fixture
async def make_rig(db_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Async factory: ``rig = await make_rig(hub=..., **bot_settings)``; everything is shut down after the test."""
    started: list[Rig] = []

    async def build(hub: OfflineTelegram | None = None, sim: Simulator | None = None, schedule_ticks: bool = False,
                    execution: ExecutionSettings = MARKET_ENTRIES, **bot: Any) -> Rig:
        hub = hub or OfflineTelegram()
        sim = sim or make_sim()
        cfg = make_cfg(db_url, execution, **bot)
        db = make_engine(db_url)
        init_db(db)
        client = BybitClient("http://sim.local", KEY, SECRET, transport=sim.transport(),
                             retry=RetryPolicy(attempts=2, base_delay=0.0))
        clock = Clock()
        app = build_application(cfg, build_offline_application(hub), db=db, sim=sim, client=client, clock=clock,
                                managed_loop=True, schedule_ticks=schedule_ticks, drain_seconds=0.05,
                                expiry_seconds=3600)
        rig = Rig(hub, app, sim, clock)
        await startup(app)
        started.append(rig)
        return rig

    yield build
    for r in started:
        await stop(r)


@pytest.fixture
async def rig(make_rig: Callable[..., Any]) -> Rig:
    r = await make_rig()
    await r.hub.wait_for(lambda m: "Started" in m.plain)
    return r


async def stop(rig: Rig) -> None:
    """Shut the app down (idempotent) and close its journal engine."""
    deps = rig.app.bot_data.get(DEPS_KEY)
    if rig.app._initialized:
        await shutdown(rig.app)
    if deps is not None:
        deps.journal.db.dispose()
