"""Journal heartbeats (the trading loop's last tick, the chat side's last sign of life) and `bot.py health`."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine, make_url
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers.deps import Deps, get_deps, wall_now
from storage.db import make_engine, normalize_url, session_scope
from storage.runtime import get_state, set_state
from tradebot.config import Config
from tradebot.engine import TradingEngine

log = logging.getLogger("handlers.liveness")
TICK_KEY, CHAT_KEY = "heartbeat:tick", "heartbeat:chat"
BEAT_SECONDS = 15.0
EXIT_HEALTHY, EXIT_UNHEALTHY = 0, 1  # Docker's HEALTHCHECK: 0 healthy, 1 unhealthy (2 is reserved)


def record_tick(db: Engine, engine: TradingEngine) -> datetime | None:
    """Store the wall time of the newest successful tick (any symbol); returns it."""
    done = [t.time for t in engine.last_ticks.values() if t.ok]
    if not done:
        return None
    at = max(done)
    with session_scope(db) as s:
        set_state(session=s, key=TICK_KEY, value={"at": at.isoformat()}, now=wall_now())
    return at


def record_chat(db: Engine, at: datetime, mode: str) -> None:
    with session_scope(db) as s:
        set_state(session=s, key=CHAT_KEY, value={"at": at.isoformat(), "mode": mode}, now=wall_now())


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


def _age(value: Any, now: datetime) -> float | None:
    if not isinstance(value, dict) or "at" not in value:
        return None
    try:
        return (now - datetime.fromisoformat(str(value["at"]))).total_seconds()
    except ValueError:
        return None


def check(cfg: Config, now: datetime | None = None) -> tuple[int, str]:
    """(exit code, one line) for `bot.py health`, read from the journal's heartbeats."""
    url = cfg.env.DATABASE_URL
    shown = make_url(normalize_url(url)).render_as_string(hide_password=True)
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).exists():
            return EXIT_UNHEALTHY, f"unhealthy: no journal at {shown} (has the bot run here? check DATABASE_URL)"
    limit = cfg.bot.health_age
    now = now or wall_now()
    db = make_engine(url)
    try:
        with session_scope(db) as s:
            tick, chat = get_state(session=s, key=TICK_KEY), get_state(session=s, key=CHAT_KEY)
    except Exception as exc:  # no table, server down, bad credentials: one line, never a traceback
        return EXIT_UNHEALTHY, f"unhealthy: cannot read the journal at {shown}: {type(exc).__name__}"
    finally:
        db.dispose()
    tick_age, chat_age = _age(tick, now), _age(chat, now)
    if tick_age is None and chat_age is None:
        return EXIT_UNHEALTHY, f"unhealthy: no heartbeat in the journal at {shown} (the bot is not running yet)"
    tick_limit = cfg.bot.health_tick_age  # longer with streams: healthy streams slow the REST tick down
    if tick_age is None or tick_age > tick_limit:
        ago = "never" if tick_age is None else f"{tick_age:.0f} s ago"
        return EXIT_UNHEALTHY, (f"unhealthy: stale tick: the trading loop last completed a tick {ago} "
                                f"(allowed {tick_limit:g} s)")
    mode = chat.get("mode", "chat") if isinstance(chat, dict) else "chat"
    if chat_age is None:
        return EXIT_UNHEALTHY, "unhealthy: stale chat: the bot has not reached Telegram yet"
    if chat_age > limit:
        return EXIT_UNHEALTHY, (f"unhealthy: stale chat: Telegram ({mode}) last answered {chat_age:.0f} s ago "
                                f"(allowed {limit:g} s)")
    return EXIT_HEALTHY, f"healthy: last tick {tick_age:.0f} s ago, Telegram ({mode}) {chat_age:.0f} s ago"
