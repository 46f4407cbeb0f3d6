"""Webhook mode for real: python-telegram-bot's webhook server (tornado) registers with the offline Bot API via
setWebhook, then updates are POSTed to its local port; without the right secret header: 403, never processed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import io
import socket
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from handlers.liveness import CHAT as CHAT_BEAT
from proving.telegram.hub import OfflineTelegram, build_offline_application
from storage.db import make_engine, session_scope
from storage.journal_state import read_heartbeats
from storage.models import AuditLog, InstanceLock
from tradebot.logs import setup_logging
from tradebot.settings.config import ConfigErrors, load_config
from wiring.live import serve

if importlib.util.find_spec("tornado") is None:  # python-telegram-bot[webhooks] (requirements.txt) brings it
    pytest.fail("tornado is missing: install requirements.txt (python-telegram-bot[webhooks])", pytrace=False)

CHAT = 42
SECRET = "s3cret-Webhook_TOKEN"
PUBLIC = "https://bot.example.com/tg/hook"
TOKEN = "123456789:AAHwebhookWEBHOOKwebhookWEBHOOKweb12"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(tmp: Path, port: int, **extra: str) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": str(CHAT), "BYBIT_ENV": "paper",
            "DATABASE_URL": f"sqlite:///{tmp / 'journal.db'}", "TELEGRAM_WEBHOOK_URL": PUBLIC,
            "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "TELEGRAM_WEBHOOK_PORT": str(port)} | extra


def status_update(update_id: int, text: str = "/status") -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "chat": {"id": CHAT, "type": "private"},
        "from": {"id": CHAT, "is_bot": False, "first_name": "Trader"}, "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}}


def audited(db_url: str) -> list[str]:
    db = make_engine(db_url)
    try:
        with session_scope(db) as s:
            return [f"{r.action} {r.args or ''}".strip() for r in s.exec(select(AuditLog)).all()]
    finally:
        db.dispose()


def test_webhook_url_needs_a_secret_and_neither_is_echoed() -> None:
    base = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": "1", "TELEGRAM_WEBHOOK_URL": PUBLIC}
    with pytest.raises(ConfigErrors) as info:
        load_config(base)
    assert [e.key for e in info.value.errors] == ["TELEGRAM_WEBHOOK_SECRET"]
    with pytest.raises(ConfigErrors) as info:
        load_config(base | {"TELEGRAM_WEBHOOK_SECRET": "has spaces " + SECRET})
    assert SECRET not in str(info.value) and "<hidden>" in str(info.value)
    with pytest.raises(ConfigErrors, match="https://"):
        load_config(base | {"TELEGRAM_WEBHOOK_URL": "http://bot.example.com/hook", "TELEGRAM_WEBHOOK_SECRET": SECRET})
    cfg = load_config(base | {"TELEGRAM_WEBHOOK_SECRET": SECRET})
    assert SECRET in cfg.secrets()  # redacted from every log line
    assert cfg.env.TELEGRAM_WEBHOOK_PORT == 8443 and cfg.env.TELEGRAM_WEBHOOK_LISTEN == "127.0.0.1"


async def test_webhook_secret_is_enforced_and_the_right_update_is_processed(tmp_path: Path) -> None:
    port = free_port()
    cfg = load_config(env(tmp_path, port))
    logs = io.StringIO()
    setup_logging("DEBUG", cfg.secrets(), stream=logs)  # the bot's own logging: DEBUG shows setWebhook's params
    hub = OfflineTelegram()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(cfg, builder=build_offline_application(hub), stop=stop))
    try:
        hook = await hub.wait_for_call("setWebhook", timeout=20)
        assert hook["url"] == PUBLIC and hook["secret_token"] == SECRET
        assert "getUpdates" not in [c.method for c in hub.calls]  # webhook mode never polls
        local = f"http://127.0.0.1:{port}/tg/hook"
        async with httpx.AsyncClient(timeout=10) as http:
            for i, headers in enumerate(({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                                         {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]})):
                answer = await http.post(local, json=status_update(1001 + i, "/pnl"), headers=headers)
                assert answer.status_code == 403, (headers, answer.text)
            await asyncio.sleep(1.0)
            sent_before = len(hub.sent(CHAT))
            assert not [a for a in audited(cfg.env.DATABASE_URL) if "pnl" in a]  # never processed
            answer = await http.post(local, json=status_update(1004, "/pnl"),
                                     headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert answer.status_code == 200
        await hub.wait_for(lambda m: m.chat_id == CHAT and m.message_id > sent_before, timeout=10)
        deadline = time.monotonic() + 5  # the audit row is journaled just after the reply went out
        while not [a for a in audited(cfg.env.DATABASE_URL) if "pnl" in a] and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a row another task writes
            await asyncio.sleep(0.05)
        assert len([a for a in audited(cfg.env.DATABASE_URL) if "pnl" in a]) == 1  # only the one with the secret
        db = make_engine(cfg.env.DATABASE_URL)
        deadline = time.monotonic() + 20
        beat = None
        while beat is None and time.monotonic() < deadline:  # getWebhookInfo confirms our URL → chat heartbeat
            beat = read_heartbeats(db).get(CHAT_BEAT)
            await asyncio.sleep(0.2)
        assert beat is not None and beat.detail == "webhook"
        assert "getWebhookInfo" in [c.method for c in hub.calls]
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
        with session_scope(db) as s:
            assert s.exec(select(InstanceLock)).all() == []
        db.dispose()
        with pytest.raises(httpx.ConnectError):  # the webhook server is down after the stop
            async with httpx.AsyncClient(timeout=2) as http:
                await http.post(local, json=status_update(1003))
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 30)
    text = logs.getvalue()
    assert "setWebhook" in text and "***" in text
    assert SECRET not in text and TOKEN not in text


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
async def test_webhook_port_in_use_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        cfg = load_config(env(tmp_path, port))
        code = await asyncio.wait_for(serve(cfg, builder=build_offline_application(OfflineTelegram())), 30)
    gc.collect()  # tornado's bind_sockets leaves the socket whose bind failed unclosed: collect it in this test
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port} (TELEGRAM_WEBHOOK_LISTEN/TELEGRAM_WEBHOOK_PORT)" in err
    assert SECRET not in err
    db = make_engine(cfg.env.DATABASE_URL)
    with session_scope(db) as s:
        assert s.exec(select(InstanceLock)).all() == []
    db.dispose()


async def _raw_post(port: int, headers: dict[str, str], size: int, chunked: bool = False) -> tuple[int | None, int]:
    """POST /tg/hook with ``headers``, then try to stream a ``size``-byte body (1 MB writes): (the status the server
    answered, how many body bytes it let us hand over before it answered and hung up)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"POST /tg/hook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n{length}\r\n{head}\r\n"
                 .encode())
    sent = 0
    block = b" " * (1 << 20)

    async def send() -> None:
        nonlocal sent
        with contextlib.suppress(ConnectionError, OSError):
            while sent < size:
                part = block[:min(len(block), size - sent)]
                writer.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                await writer.drain()
                sent += len(part)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()

    sender = asyncio.create_task(send())
    try:
        line = await asyncio.wait_for(reader.readline(), 60)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sender, 30)
    finally:
        sender.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    return (int(line.split()[1]) if line.startswith(b"HTTP/") else None), sent


async def test_webhook_refuses_big_bodies_before_reading_them(tmp_path: Path) -> None:
    """95 MB without the secret: 403 on the headers alone, the body never read (memory stays flat); with the secret
    but over the 1 MB limit: 413, unread; chunked past the limit: cut off. The bot still takes a normal update."""
    from handlers.webhook import MAX_BODY_BYTES  # tornado: after the module's skip check

    port = free_port()
    cfg = load_config(env(tmp_path, port))
    hub = OfflineTelegram()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(cfg, builder=build_offline_application(hub), stop=stop))
    big = 95 * (1 << 20)
    try:
        await hub.wait_for_call("setWebhook", timeout=20)
        tracemalloc.start()
        try:
            status, sent = await _raw_post(port, {}, big)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        print(f"\n95 MB without the secret: {status}, {sent / 2**20:.1f} MB handed over, peak {peak / 2**20:.1f} MB")
        assert status == 403
        assert sent < big // 3, sent  # hung up on: only what the sockets' buffers took was handed over
        assert peak < 32 * (1 << 20), peak  # the body was never gathered in memory
        status, sent = await _raw_post(port, {"X-Telegram-Bot-Api-Secret-Token": SECRET}, 2 * MAX_BODY_BYTES)
        assert status == 413 and sent <= 2 * MAX_BODY_BYTES
        status, _ = await _raw_post(port, {"X-Telegram-Bot-Api-Secret-Token": SECRET}, 3 * MAX_BODY_BYTES,
                                    chunked=True)
        assert status is not None and status >= 400
        async with httpx.AsyncClient(timeout=10) as http:  # a normal update still goes through
            answer = await http.post(f"http://127.0.0.1:{port}/tg/hook", json=status_update(2001, "/status"),
                                     headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert answer.status_code == 200
        await hub.wait_for(lambda m: m.chat_id == CHAT and "running" in m.plain, timeout=10)
        assert not [a for a in audited(cfg.env.DATABASE_URL) if a.startswith("unknown")]
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
