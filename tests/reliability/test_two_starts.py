"""Two ``bot.py`` started together on a fresh journal (SQLite, PostgreSQL): one runs, the other exits 3 with one
line, every time (the schema is created once, in one transaction the second start waits for)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

import storage.db
from storage import make_engine
from tests.journals import PG_URL, _pg_schema_url, need_postgres
from tradebot.settings.config import load_config
from wiring import live

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAAbbbCCCdddEEEfffGGGhhhIIIjjjKKK"
ENV = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": "42", "BYBIT_ENV": "paper",
       "TELEGRAM_API_URL": "http://127.0.0.1:1"}  # Telegram unreachable: the winner waits for it, the loser exits


def race(url: str, home: Path) -> tuple[int, str]:
    """Start two bot.py on ``url`` at once; (exit code, stderr) of the one that ends first (the other, waiting for
    Telegram, is then killed)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": url} | ENV
    procs = [subprocess.Popen([sys.executable, "-m", "tests.reliability.start_together"], cwd=home, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline() == "ready\n"
        for p in procs:  # go
            assert p.stdin is not None
            p.stdin.write("\n")
            p.stdin.flush()
        deadline = time.monotonic() + 90
        while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        loser = next(p for p in procs if p.poll() is not None)
        _, err = loser.communicate(timeout=30)
        return loser.returncode, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate(timeout=30)  # reaps it and closes its pipes


def check(url: str, home: Path) -> None:
    code, err = race(url, home)
    assert code == 3 and "Traceback" not in err, err[-3000:]
    assert err.count("\n") == 1 and err.startswith("Refusing to start: Another bot instance is running"), err


@pytest.mark.parametrize("round_", range(3))
def test_sqlite_the_second_of_two_starts_on_a_fresh_journal_exits_3_in_one_line(tmp_path, round_):
    check(f"sqlite:///{tmp_path / 'journal.db'}", tmp_path)


async def test_a_sqlite_journal_another_process_keeps_locked_at_start_is_exit_3_in_one_line(tmp_path, monkeypatch,
                                                                                        capsys):
    """The first start's lock held by another process beyond the wait (here a rollback-mode write lock on the new
    file, held throughout, and a short wait): the other bot holds it, so exit 3 in one line, not exit 1."""
    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "journal.db"
    other = sqlite3.connect(path)
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")
    (tmp_path / "config.toml").write_text("")
    cfg = load_config(ENV | {"DATABASE_URL": f"sqlite:///{path}"}, str(tmp_path / "config.toml"))
    try:
        assert await live.serve(cfg) == 3
    finally:
        other.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Refusing to start: Another bot instance is running"), err
    assert "database is locked" in err


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(1))
def test_postgres_the_second_of_two_starts_on_a_fresh_journal_exits_3_in_one_line(tmp_path, round_):
    need_postgres()
    schema = f"two_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        check(_pg_schema_url(schema), tmp_path)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(30))
def test_sqlite_two_starts_many_rounds(tmp_path, round_):
    check(f"sqlite:///{tmp_path / 'journal.db'}", tmp_path)
