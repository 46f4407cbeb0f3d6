"""The real ``bot.py`` when Telegram rejects the token (exit 2, one line, no secret) or is unreachable at start
(retries with backoff while the trading engine keeps ticking); the instance lock is free after every exit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlmodel import select

from storage.db import make_engine, session_scope
from storage.journal_state import read_heartbeats
from storage.models import InstanceLock
from tests.reliability.fake_tg import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHsecretTOKENsecretTOKENsecretTOKEN12"
KEY, SECRET, DB_PASSWORD = "bybitKEYabc123", "bybitSECRETxyz789", "dbPASSw0rd"
USER = 4242


def bot_env(tmp: Path, api_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "TMPDIR")}
    return env | {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": str(USER), "TELEGRAM_API_URL": api_url,
                  "BYBIT_ENV": "paper", "DATABASE_URL": f"sqlite:///{tmp / 'journal.db'}", "CONFIG_FILE": "",
                  "LOG_LEVEL": "INFO", "PTB_TIMEDELTA": "true"} | extra


def lock_rows(tmp: Path) -> list[str]:
    db = make_engine(f"sqlite:///{tmp / 'journal.db'}")
    try:
        with session_scope(db) as s:
            return [row.owner for row in s.exec(select(InstanceLock)).all()]
    finally:
        db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_no_secret(text: str) -> None:
    for secret in (TOKEN, TOKEN.split(":")[1], KEY, SECRET, DB_PASSWORD):
        assert secret not in text


@pytest.mark.parametrize("status", [401, 404])
def test_rejected_token_is_one_line_exit_2_no_secret_and_the_lock_is_free(tmp_path: Path, status: int) -> None:
    fake = FakeTelegram(USER, reject_token=status).start()
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "bot.py")], env=bot_env(tmp_path, fake.url), cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    finally:
        fake.close()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out
    assert_no_secret(out)
    plain = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln[:4].isdigit()]  # not log records
    assert len(plain) == 1, plain
    assert "TELEGRAM_BOT_TOKEN was rejected" in plain[0] and "@BotFather" in plain[0]
    assert "TELEGRAM_API_URL" in plain[0] and fake.url in plain[0]
    assert lock_rows(tmp_path) == []


def test_unreachable_telegram_is_retried_while_the_engine_ticks_then_polls(tmp_path: Path) -> None:
    """Connection refused: one log line per attempt with growing waits, the engine ticks with entries held
    (journal heartbeat), then Telegram comes up on that port and the bot polls; SIGTERM → exit 0, lock free."""
    port = free_port()
    (tmp_path / "config.toml").write_text("[bot]\nloop_seconds = 1\n")
    env = bot_env(tmp_path, f"http://127.0.0.1:{port}", CONFIG_FILE=str(tmp_path / "config.toml"),
                  DATABASE_URL=f"sqlite:///{tmp_path / 'journal.db'}")
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py")], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    fake: FakeTelegram | None = None
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        while sum("Telegram is unreachable" in ln for ln in lines) < 2:
            line = proc.stdout.readline()
            assert line, f"bot.py exited early: {''.join(lines)}"
            lines.append(line)
        attempts = [ln for ln in lines if "Telegram is unreachable" in ln]
        assert "attempt 1:" in attempts[0] and "retrying in 2 s" in attempts[0]
        assert "attempt 2:" in attempts[1] and "retrying in 4 s" in attempts[1]
        assert "open positions keep their exchange TP/SL" in attempts[0]
        db = make_engine(f"sqlite:///{tmp_path / 'journal.db'}")
        beat = read_heartbeats(db).get("tick")  # the protection loop ran: trading ticks completed without Telegram
        db.dispose()
        assert beat is not None
        fake = FakeTelegram(USER, port=port).start()
        assert fake.wait(lambda: "getUpdates" in fake.methods(), 30), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
        out = "".join(lines) + rest
        assert proc.returncode == 0, out
        assert "Telegram is reachable again" in out
        assert "Traceback" not in out
        assert_no_secret(out)
        assert lock_rows(tmp_path) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if fake is not None:
            fake.close()


def test_stop_while_telegram_is_unreachable_exits_0_and_frees_the_lock(tmp_path: Path) -> None:
    env = bot_env(tmp_path, f"http://127.0.0.1:{free_port()}")
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py")], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        seen = ""
        while "Telegram is unreachable" not in seen:
            line = proc.stdout.readline()
            assert line, seen
            seen += line
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, seen + rest
    assert "Traceback" not in seen + rest
    assert lock_rows(tmp_path) == []


HOOKS_SCRIPT = textwrap.dedent("""
    import asyncio, gc, json, sys, threading, warnings
    from tradebot.logs import install_stderr_hooks, setup_logging
    secrets = json.loads(sys.argv[1])
    install_stderr_hooks(setup_logging("DEBUG", secrets))
    token, key, pw = secrets[0], secrets[1], secrets[3]
    warnings.warn(f"a warning that names {token}")
    t = threading.Thread(target=lambda: 1 / 0 if False else (_ for _ in ()).throw(RuntimeError(key)), name="w")
    t.start(); t.join()
    class Leaky:
        def __del__(self):
            raise ValueError(f"in __del__: {key}")
    Leaky(); gc.collect()
    async def main():
        async def boom():
            raise RuntimeError(f"task failed with postgresql://bot:{pw}@db/tradebot")
        task = asyncio.get_running_loop().create_task(boom())
        await asyncio.sleep(0.01)
        del task
        gc.collect()
    asyncio.run(main())
    raise RuntimeError(f"The token `{token}` was rejected by the server.")
""")


def test_stderr_outside_logging_is_redacted(tmp_path: Path) -> None:
    """Uncaught exceptions (main thread, another thread, __del__), warnings, and an asyncio task's unretrieved
    exception all reach stderr without the bot token, the Bybit key or the database password."""
    secrets = [TOKEN, KEY, SECRET, DB_PASSWORD]
    proc = subprocess.run([sys.executable, "-c", HOOKS_SCRIPT, json.dumps(secrets)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=os.environ | {"PYTHONWARNINGS": "default"})
    err = proc.stderr
    assert proc.returncode == 1
    for what in ("a warning that names", "Exception in thread w", "in __del__", "task failed with",
                 "was rejected by the server"):
        assert what in err, err
    assert_no_secret(err)
    assert err.count("***") >= 5, err


def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://bot:{DB_PASSWORD}@127.0.0.1:{free_port()}/tradebot"
    proc = subprocess.run([sys.executable, str(ROOT / "bot.py")], env=bot_env(tmp_path, "http://127.0.0.1:9",
                                                                               DATABASE_URL=url),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    assert_no_secret(out)
    assert "Cannot open the journal at postgresql://bot:***@127.0.0.1" in out  # the URL as configured
