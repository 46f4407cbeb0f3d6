"""The typed Deps object kept in bot_data (config, engine, service, journal...) and get_deps(context)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from telegram.ext import Application, ContextTypes
from telegram.request import BaseRequest, RequestData

from handlers.roles import Access
from storage.journal import Journal
from tradebot.bybit.client import BybitClient
from tradebot.chat.service import BotService
from tradebot.paper import PaperExchange
from tradebot.settings.config import Config
from tradebot.tick.engine import TradingEngine
from tradebot.tick.streams import StreamRunner
from tradebot.timeutil import utcnow

DEPS_KEY = "deps"
SETUP_KEY = "setup"
EXIT_OTHER_INSTANCE = 3
EXIT_BAD_JOURNAL = 2  # like a bad config: the journal cannot be used by this code (newer release)


wall_now = utcnow  # the wall clock (Telegram-side times), whatever clock the engine runs on
# The Application the handlers are registered on (its bot, context and data types as python-telegram-bot builds
# them; the handlers read them through Deps and the context, not through these parameters)
App = Application[Any, Any, Any, Any, Any, Any]


class PollTracker(BaseRequest):
    """Wraps the getUpdates request object and remembers when Telegram last answered (health check)."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner
        self.last_ok = time.monotonic()
        self.last_error: str | None = None

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        try:
            code, body = await self.inner.do_request(url, method, request_data, read_timeout, write_timeout,
                                                     connect_timeout, pool_timeout)
        except Exception as exc:
            self.last_error = type(exc).__name__
            raise
        if code < 500:
            self.last_ok = time.monotonic()
        return code, body


@dataclass
class Setup:
    """What build_application was given; post_init turns it into Deps (tests/demo inject sim/db/clock)."""

    cfg: Config
    owner: str
    db: Engine | None = None
    journal: Journal | None = None  # given: shared with the caller (who closes it); else made from db
    sim: PaperExchange | None = None
    client: BybitClient | None = None
    clock: Callable[[], datetime] | None = None
    poll: PollTracker | None = None
    managed_loop: bool = False  # True: demo/tests start/stop the app themselves (no run_polling)
    schedule_ticks: bool = True
    drain_seconds: float = 1.0
    expiry_seconds: float = 5.0
    streams: bool | None = None  # None: WebSocket streams when the app made the exchange itself ([bot] streams)


@dataclass
class Deps:
    """Everything handlers and jobs need, built once in post_init."""

    cfg: Config
    engine: TradingEngine
    service: BotService
    client: BybitClient
    journal: Journal
    sim: PaperExchange | None
    clock: Callable[[], datetime]
    owner: str
    poll: PollTracker | None
    managed_loop: bool
    own_journal: bool = False
    own_db: bool = False
    exit_code: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    health_alerts: set[str] = field(default_factory=set)
    started_mono: float = field(default_factory=time.monotonic)
    streams: StreamRunner | None = None

    @property
    def admin_chat(self) -> int | None:
        """Who gets error reports and the journal alarm: the first allowed chat that is an owner's private chat
        (a private chat's id is its user's id), else the first allowed chat."""
        allowed = self.cfg.env.TELEGRAM_ALLOWED_CHAT_IDS
        owners = self.cfg.env.owner_ids
        return next((c for c in allowed if c in owners), allowed[0] if allowed else None)

    @property
    def access(self) -> Access:
        """Who may do what (read from the config each time: cheap, and always the config in force)."""
        return Access.of(self.cfg.env)

    @property
    def chats(self) -> list[int]:
        return list(dict.fromkeys(self.cfg.env.TELEGRAM_ALLOWED_CHAT_IDS))


def get_deps(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    deps = context.bot_data.get(DEPS_KEY)
    if not isinstance(deps, Deps):
        raise RuntimeError("Deps missing from bot_data: post_init has not run")
    return deps
