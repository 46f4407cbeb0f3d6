"""Journal heartbeats: the trading loop's last tick and the chat side's last sign of life (read by `bot.py health`)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers.deps import Deps, get_deps, wall_now
from storage.db import session_scope
from storage.state import beat as record_beat
from tradebot.engine import TradingEngine

log = logging.getLogger("handlers.liveness")
TICK_KEY, CHAT_KEY = "tick", "chat"  # heartbeat names
BEAT_SECONDS = 15.0


def record_tick(db: Engine, engine: TradingEngine) -> datetime | None:
    """Store the wall time of the newest successful tick (any symbol); returns it."""
    done = [t.time for t in engine.last_ticks.values() if t.ok]
    if not done:
        return None
    at = max(done)
    with session_scope(db) as s:
        record_beat(session=s, name=TICK_KEY, at=at, now=wall_now())
    return at


def record_chat(db: Engine, at: datetime, mode: str) -> None:
    with session_scope(db) as s:
        record_beat(session=s, name=CHAT_KEY, at=at, detail=mode, now=wall_now())


async def chat_alive_at(deps: Deps, app: Any) -> datetime | None:
    """When the chat side last showed life: polling → Telegram's last answer to getUpdates; webhook → the local
    server runs and Telegram confirms our webhook URL now."""
    webhook = deps.cfg.env.TELEGRAM_WEBHOOK_URL
    if webhook:
        if app.updater is None or not app.updater.running:
            return None
        try:
            info = await app.bot.get_webhook_info()
        except TelegramError as exc:
            log.warning("health: getWebhookInfo failed: %s", exc)
            return None
        return wall_now() if info.url == webhook else None
    if deps.poll is None:
        return None
    return wall_now() - timedelta(seconds=max(0.0, time.monotonic() - deps.poll.last_ok))


async def beat(context: ContextTypes.DEFAULT_TYPE) -> None:
    """JobQueue job: write both heartbeats to the journal."""
    deps = get_deps(context)
    record_tick(deps.db, deps.engine)
    if (at := await chat_alive_at(deps, context.application)) is not None:
        record_chat(deps.db, at, "webhook" if deps.cfg.env.TELEGRAM_WEBHOOK_URL else "polling")
