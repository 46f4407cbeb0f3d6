"""wiring.live.serve against the offline Bot API: getMe failures (network, 5xx-like, flood control) are retried
with backoff and one log line each, then the bot polls; the lock is free after the stop."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from sqlmodel import select

from proving.telegram.hub import OfflineTelegram, build_offline_application
from storage.db import make_engine, session_scope
from storage.models import InstanceLock
from tradebot.logs import setup_logging
from tradebot.settings.config import load_config
from wiring import live

TOKEN = "123456789:AAHliveLIVEliveLIVEliveLIVEliveLIVE12"


async def test_getme_failures_are_retried_then_the_bot_polls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "BACKOFF_FIRST", 0.05)
    cfg = load_config({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": "42", "BYBIT_ENV": "paper",
                       "DATABASE_URL": f"sqlite:///{tmp_path / 'journal.db'}"})
    logs = io.StringIO()
    setup_logging("INFO", cfg.secrets(), stream=logs)
    hub = OfflineTelegram()
    hub.fail_next("getMe", "network", n=2)
    hub.fail_next("getMe", "timeout", n=1)
    hub.fail_next("getMe", "retry_after", n=1, retry_after=1)
    stop = asyncio.Event()
    task = asyncio.create_task(live.serve(cfg, builder=build_offline_application(hub), stop=stop))
    try:
        await hub.wait_for_call("getUpdates", timeout=30)
        assert len(hub.calls_for("getMe")) == 5
        text = logs.getvalue()
        attempts = [ln for ln in text.splitlines() if "Telegram is unreachable" in ln]
        assert [f"attempt {i}:" in ln for i, ln in enumerate(attempts, 1)] == [True] * 4
        assert "retrying in 1 s" in attempts[3]  # flood control: Telegram's retry_after is honoured
        assert "Telegram is reachable again after 5 attempts" in text
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 30)
    db = make_engine(cfg.env.DATABASE_URL)
    with session_scope(db) as s:
        assert s.exec(select(InstanceLock)).all() == []
    db.dispose()
    assert TOKEN not in logs.getvalue()


async def test_webhook_mode_without_the_webhook_server_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg = load_config({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": "42", "BYBIT_ENV": "paper",
                       "DATABASE_URL": f"sqlite:///{tmp_path / 'journal.db'}",
                       "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/tg", "TELEGRAM_WEBHOOK_SECRET": "abc"})
    real = live.importlib.util.find_spec
    monkeypatch.setattr(live.importlib.util, "find_spec", lambda name, *a: None if name == "tornado" else real(name))
    assert await live.serve(cfg, builder=build_offline_application(OfflineTelegram())) == 2
    assert "python-telegram-bot[webhooks]" in capsys.readouterr().err
