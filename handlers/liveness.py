"""Journal heartbeats: the trading loop's last tick and the chat side's last sign of life (read by `bot.py health`)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers.deps import App, Deps, get_deps, wall_now
from storage.journal import Journal
from tradebot.tick.engine import TradingEngine

log = logging.getLogger("handlers.liveness")
TICK, CHAT = "tick", "chat"  # the heartbeats' names in the journal
BEAT_SECONDS = 15.0
SERVER_KEY = "webhook_server"  # bot_data: the running webhook server (handlers/webhook.py), in webhook mode


def webhook_running(app: App) -> bool:
    return bool(getattr(app.bot_data.get(SERVER_KEY), "running", False))


async def record_tick(journal: Journal, engine: TradingEngine) -> datetime | None:
    """Store the wall time of the newest successful tick (any symbol); returns it."""
    at = engine.last_tick_at()
    if at is not None:
        await journal.state.beat(TICK, at, None, wall_now())
    return at


async def record_chat(journal: Journal, at: datetime, mode: str) -> None:
    await journal.state.beat(CHAT, at, mode, wall_now())


async def chat_alive_at(deps: Deps, app: App) -> datetime | None:
    """When the chat side last showed life: polling → Telegram's last answer to getUpdates; webhook → the local
    server runs and Telegram confirms our webhook URL now."""
    webhook = deps.cfg.env.TELEGRAM_WEBHOOK_URL
    if webhook:
        if not webhook_running(app):
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
    await record_tick(deps.journal, deps.engine)
    if (at := await chat_alive_at(deps, context.application)) is not None:
        await record_chat(deps.journal, at, "webhook" if deps.cfg.env.TELEGRAM_WEBHOOK_URL else "polling")
