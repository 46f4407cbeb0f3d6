"""`bot.py health`: exit 0 only when the journal's tick and chat heartbeats are fresh; else 1 with one line."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.liveness import CHAT, TICK
from storage.db import init_db, make_engine
from storage.journal import Journal
from tests.reliability.fake_tg import FakeTelegram
from tradebot.settings.config import load_config
from wiring.health import check

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHhealthHEALTHhealthHEALTHhealth12"
USER = 4242
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HEALTH_AGE = 120


def cfg_for(tmp: Path, **bot: float):
    env = {"DATABASE_URL": f"sqlite:///{tmp / 'journal.db'}"}
    if bot:
        (tmp / "config.toml").write_text("[bot]\n" + "".join(f"{k} = {v}\n" for k, v in bot.items()))
        env["CONFIG_FILE"] = str(tmp / "config.toml")
    return load_config(env, demo=True)


def beats(tmp: Path, tick_age: float | None, chat_age: float | None) -> None:
    db = make_engine(f"sqlite:///{tmp / 'journal.db'}")
    init_db(db)
    journal = Journal(db)

    async def write() -> None:
        if tick_age is not None:
            await journal.state.beat(TICK, NOW - timedelta(seconds=tick_age), None, NOW)
        if chat_age is not None:
            await journal.state.beat(CHAT, NOW - timedelta(seconds=chat_age), "polling", NOW)

    asyncio.run(write())
    journal.close()
    db.dispose()


def test_no_journal(tmp_path: Path) -> None:
    code, line = check(cfg_for(tmp_path), NOW)
    assert code == 1 and line.startswith("unhealthy: no journal at sqlite:///")
    assert not (tmp_path / "journal.db").exists()  # the check never creates one


@pytest.mark.parametrize(("tick", "chat", "code", "words"), [
    (None, None, 1, "no heartbeat in the journal"),
    (700, 5, 1, "stale tick: the trading loop last completed a tick 700 s ago (allowed 660 s)"),  # streams on
    (None, 5, 1, "stale tick: the trading loop last completed a tick never"),
    (5, 400, 1, "stale chat: Telegram (polling) last answered 400 s ago"),
    (5, None, 1, "stale chat"),
    (5, 7, 0, "healthy: last tick 5 s ago, Telegram (polling) 7 s ago"),
])
def test_heartbeat_ages(tmp_path: Path, tick: float | None, chat: float | None, code: int, words: str) -> None:
    beats(tmp_path, tick, chat)
    got, line = check(cfg_for(tmp_path), NOW)
    assert got == code and words in line and "\n" not in line


def test_configured_age_and_the_loop_seconds_floor(tmp_path: Path) -> None:
    beats(tmp_path, 50, 50)
    assert check(cfg_for(tmp_path, health_max_age_seconds=40), NOW)[0] == 1
    assert check(cfg_for(tmp_path, health_max_age_seconds=60), NOW)[0] == 0
    assert cfg_for(tmp_path, loop_seconds=900).bot.health_age == 2700  # unset: max(300 s, 3 loops)
    assert cfg_for(tmp_path, streams="false").bot.health_tick_age == 300  # streams on: 2 reconcile periods + 1 loop


def test_unreadable_journal_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "journal.db").write_text("not a database")
    code, line = check(cfg_for(tmp_path), NOW)
    assert code == 1 and "cannot read the journal" in line


def test_the_real_bot_writes_heartbeats_that_health_reads(tmp_path: Path) -> None:
    """bot.py against a fake Bot API: `bot.py health` turns 0 once the loop ticked and polling answered; after the
    bot stops, the same heartbeats are stale past the configured age.

    The age allowed is generous (the heartbeats are written every 15 s, and on a loaded machine a start or one
    `bot.py health` takes several seconds): what is checked is that they are written and read, and go stale."""
    (tmp_path / "config.toml").write_text(f"[bot]\nloop_seconds = 1\nhealth_max_age_seconds = {HEALTH_AGE}\n")
    fake = FakeTelegram(USER).start()
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env = base | {"DATABASE_URL": f"sqlite:///{tmp_path / 'journal.db'}", "CONFIG_FILE": str(tmp_path / "config.toml"),
                  "PTB_TIMEDELTA": "true"}
    bot_env = env | {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": str(USER),
                     "TELEGRAM_API_URL": fake.url, "BYBIT_ENV": "paper", "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py")], env=bot_env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.monotonic() + 180, None
        while time.monotonic() < deadline and proc.poll() is None:
            health = subprocess.run([sys.executable, str(ROOT / "bot.py"), "health"], env=env, cwd=tmp_path,
                                    capture_output=True, text=True, timeout=60)
            if health.returncode == 0:
                break
            time.sleep(1)
        assert health is not None and health.returncode == 0, (health and health.stderr, proc.poll())
        assert health.stdout.startswith("healthy: last tick") and "Telegram (polling)" in health.stdout
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        fake.close()
    cfg = load_config(env, demo=True)
    code, line = check(cfg, datetime.now(UTC) + timedelta(seconds=HEALTH_AGE + 1))
    assert code == 1 and "stale tick" in line
