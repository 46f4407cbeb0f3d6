"""`bot.py health`: 0 if the running bot's trading loop and chat side are alive, from the journal's heartbeats."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from handlers.deps import wall_now
from handlers.liveness import CHAT, TICK
from storage.db import make_engine, normalize_url
from storage.journal_state import read_heartbeats
from storage.models import Heartbeat
from storage.trouble import LOW_DISK_BYTES, advice, free_bytes, reason, write_problem
from tradebot.settings.config import Config
from tradebot.settings.dburl import shown_url

EXIT_HEALTHY, EXIT_UNHEALTHY = 0, 1  # Docker's HEALTHCHECK: 0 healthy, 1 unhealthy (2 is reserved)


def _age(beat: Heartbeat | None, now: datetime) -> float | None:
    return None if beat is None else (now - beat.at).total_seconds()


def check(cfg: Config, now: datetime | None = None) -> tuple[int, str]:
    """(exit code, one line) for `bot.py health`, read from the journal's heartbeats."""
    url = cfg.env.DATABASE_URL
    shown = shown_url(url)
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).exists():
            return EXIT_UNHEALTHY, f"unhealthy: no journal at {shown} (has the bot run here? check DATABASE_URL)"
    now = now or wall_now()
    db = make_engine(url)
    try:
        beats = read_heartbeats(db)
        code, line = _judge(cfg, beats, now, shown)
        if code != EXIT_HEALTHY and (why := _unwritable(db, url)) is not None:  # a stale heartbeat: can it be written?
            return code, f"{why}; {line.removeprefix('unhealthy: ')}"
        return code, line
    except Exception as exc:  # no table, server down, bad credentials: one line, never a traceback
        return EXIT_UNHEALTHY, f"unhealthy: cannot read the journal at {shown}: {type(exc).__name__}"
    finally:
        db.dispose()


def _unwritable(db: Engine, url: str) -> str | None:
    """Why the journal cannot be written (a real write is tried), or None when it can."""
    exc = write_problem(db)
    free = free_bytes(url)
    if exc is None and (free is None or free >= LOW_DISK_BYTES):
        return None
    what = reason(exc) if exc is not None else "the disk is full"
    return f"unhealthy: the journal cannot be written ({what}): {advice(exc, url)}"


def _judge(cfg: Config, beats: dict[str, Heartbeat], now: datetime, shown: str) -> tuple[int, str]:
    limit = cfg.bot.health_age
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
