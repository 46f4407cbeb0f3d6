"""The real PTB Application on the offline Telegram hub, over the in-process simulator (hostile-input tests)."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22.8 warns on int retry_after otherwise

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlmodel import select

from handlers.deps import DEPS_KEY, Deps
from proving.sim import BookParams, Simulator
from proving.telegram.hub import OfflineTelegram, build_offline_application
from proving.telegram.types import SentMessage
from storage.db import init_db, make_engine, session_scope
from storage.models import AuditLog, Confirmation, OrderRecord
from tests.engine.conftest import KEY, SECRET, SYMBOL, ema_only, trend_rows
from tests.pinned import OLD_STOPS
from tests.telegram.conftest import stop
from tests.waiting import until
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
from tradebot.sizing.execution import MARKET_ENTRIES
from tradebot.sizing.risk import RiskParams
from wiring.app import build_application, startup

CHAT, STRANGER, GROUP = 42, 666, -100555


def tg_config(db_url: str, env: dict[str, Any] | None = None, **bot: Any) -> Config:
    settings = BotSettings.model_validate({"symbols": [SYMBOL], "interval": "5", "candles": 200, "mode": "confirm",
                                           "confirmation_expiry_seconds": 600, "loop_seconds": 60,
                                           "unknown_position_wait_seconds": 3600, **bot})
    risk = RiskParams.model_validate({**OLD_STOPS, "trailing_mode": "bot", "cooldown_minutes": 0})
    settings_env = EnvSettings.model_validate({"TELEGRAM_ALLOWED_CHAT_IDS": [CHAT], "DATABASE_URL": db_url,
                                               **(env or {})})
    return Config(env=settings_env, file=FileConfig(execution=MARKET_ENTRIES, bot=settings, risk=risk, strategy=ema_only()), source="test")


@dataclass
class TgRig:
    hub: OfflineTelegram
    app: Any
    sim: Simulator

    @property
    def deps(self) -> Deps:
        return self.app.bot_data[DEPS_KEY]

    async def card(self) -> SentMessage:
        await self.deps.engine.tick(SYMBOL)
        return await self.hub.wait_for(lambda m: any(d and d.startswith("ap:") for r in m.buttons for _, d in r))

    def rows(self, model: type) -> list[Any]:
        with session_scope(self.deps.journal.db) as s:
            out = list(s.exec(select(model)).all())
            for r in out:
                s.expunge(r)
            return out

    def entries(self) -> list[OrderRecord]:
        return [o for o in self.rows(OrderRecord) if o.purpose == "entry"]

    def status(self, conf_id: str) -> str:
        return next(c.status for c in self.rows(Confirmation) if c.id == conf_id)

    def audit(self) -> list[AuditLog]:
        return self.rows(AuditLog)

    async def audited(self, at_least: int, *, allowed: bool | None = None) -> list[AuditLog]:
        """The audit rows once ``at_least`` are there: the gate journals through the worker, after the update."""
        def found() -> list[AuditLog] | None:
            rows = [a for a in self.audit() if allowed is None or a.allowed == allowed]
            return rows if len(rows) >= at_least else None
        return await until(found, limit=10)

    def calls_to(self, chat_id: int) -> list[tuple[str, dict[str, Any]]]:
        return [(c.method, c.params) for c in self.hub.calls if str(c.params.get("chat_id")) == str(chat_id)]


async def start_rig(tmp: Path, *, schedule_ticks: bool = False, key: str = KEY, secret: str = SECRET,
                    token: str | None = None, **bot: Any) -> TgRig:
    """The app over a fresh simulator; ``key``/``secret``/``token`` also go into the config's environment."""
    hub = OfflineTelegram()
    sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: trend_rows(300)}, warmup=250, rate_limits=False,
                    book=BookParams.zero(), api_key=key, api_secret=secret, balance=Decimal("10000"))
    url = f"sqlite:///{tmp / 'journal.db'}"
    db = make_engine(url)
    init_db(db)
    client = BybitClient("http://sim.local", key, secret, transport=sim.transport(),
                         retry=RetryPolicy(attempts=2, base_delay=0.0))
    env = {"BYBIT_API_KEY": key, "BYBIT_API_SECRET": secret, "TELEGRAM_BOT_TOKEN": token}
    app = build_application(tg_config(url, env, **bot), build_offline_application(hub, token=token), db=db,
                            sim=sim, client=client,
                            managed_loop=True, schedule_ticks=schedule_ticks, drain_seconds=0.05,
                            expiry_seconds=3600)
    await startup(app)
    rig = TgRig(hub, app, sim)
    await hub.wait_for(lambda m: "Started" in m.plain)
    return rig


stop_rig = stop  # the same teardown as the Telegram tests: shut the app down, then dispose its journal
