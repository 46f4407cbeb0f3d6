"""`bot.py health`: 0 if the running bot's trading loop and chat side are alive, from the journal's heartbeats."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from handlers.deps import wall_now
from handlers.liveness import CHAT, TICK
from storage.db import make_engine, normalize_url
from storage.journal_state import read_heartbeats
from storage.models import Heartbeat
from tradebot.config import Config

EXIT_HEALTHY, EXIT_UNHEALTHY = 0, 1  # Docker's HEALTHCHECK: 0 healthy, 1 unhealthy (2 is reserved)


def _age(beat: Heartbeat | None, now: datetime) -> float | None:
    return None if beat is None else (now - beat.at).total_seconds()


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
        beats = read_heartbeats(db)
    except Exception as exc:  # no table, server down, bad credentials: one line, never a traceback
        return EXIT_UNHEALTHY, f"unhealthy: cannot read the journal at {shown}: {type(exc).__name__}"
    finally:
        db.dispose()
    tick, chat = beats.get(TICK), beats.get(CHAT)
    tick_age, chat_age = _age(tick, now), _age(chat, now)
    if tick_age is None and chat_age is None:
        return EXIT_UNHEALTHY, f"unhealthy: no heartbeat in the journal at {shown} (the bot is not running yet)"
    tick_limit = cfg.bot.health_tick_age  # longer with streams: healthy streams slow the REST tick down
    if tick_age is None or tick_age > tick_limit:
        ago = "never" if tick_age is None else f"{tick_age:.0f} s ago"
        return EXIT_UNHEALTHY, (f"unhealthy: stale tick: the trading loop last completed a tick {ago} "
                                f"(allowed {tick_limit:g} s)")
    mode = (chat.detail if chat is not None else None) or "chat"
    if chat_age is None:
        return EXIT_UNHEALTHY, "unhealthy: stale chat: the bot has not reached Telegram yet"
    if chat_age > limit:
        return EXIT_UNHEALTHY, (f"unhealthy: stale chat: Telegram ({mode}) last answered {chat_age:.0f} s ago "
                                f"(allowed {limit:g} s)")
    return EXIT_HEALTHY, f"healthy: last tick {tick_age:.0f} s ago, Telegram ({mode}) {chat_age:.0f} s ago"
