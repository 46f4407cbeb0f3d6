"""Deployment: a self-hosted Bot API server (TELEGRAM_API_URL); the instance lock after the holder died (SIGKILL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from storage import lock
from storage.db import init_db, make_engine, session_scope
from storage.lock import LOCK_NAME, host_id, new_owner, parse_owner, take_lock
from storage.runtime import acquire_lock, lock_holder
from tests.reliability.fake_tg import FakeTelegram
from tests.telegram.conftest import CHAT, make_cfg
from tradebot.settings.config import ConfigErrors, EnvSettings, load_config
from wiring.app import build_application
from wiring.process import run

TOKEN = "123456:" + "A" * 30


@pytest.fixture
def db(db_url):
    eng = make_engine(db_url)
    init_db(eng)
    yield eng
    eng.dispose()


def hold(db, owner: str, age_s: float = 0.0) -> None:
    with session_scope(db) as s:
        assert acquire_lock(session=s, name=LOCK_NAME, owner=owner, now=datetime.now(UTC) - timedelta(seconds=age_s),
                            stale_after=timedelta(seconds=90))


def holder(db) -> str:
    with session_scope(db) as s:
        row = lock_holder(session=s, name=LOCK_NAME)
        return row.owner if row else ""


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# -- TELEGRAM_API_URL ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "stored"), [("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
                                             ("https://tg.example.org/api/", "https://tg.example.org/api"),
                                             ("", None)])
def test_api_url_accepted(raw, stored):
    assert EnvSettings.model_validate({"TELEGRAM_API_URL": raw}).TELEGRAM_API_URL == stored


@pytest.mark.parametrize("raw", ["127.0.0.1:8081", "ftp://host", "http://", "http://a b", "localhost"])
def test_api_url_refused_naming_the_key(raw):
    with pytest.raises(ConfigErrors) as info:
        load_config({"TELEGRAM_API_URL": raw}, demo=True)
    [err] = info.value.errors
    assert err.key == "TELEGRAM_API_URL" and "Bot API server" in err.allowed


async def test_application_talks_to_the_self_hosted_server(db_url):
    fake = FakeTelegram(CHAT).start()
    try:
        cfg = make_cfg(db_url)
        env = EnvSettings.model_validate({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.url + "/",
                                          "TELEGRAM_ALLOWED_CHAT_IDS": [CHAT], "DATABASE_URL": db_url})
        cfg = replace(cfg, env=env)
        app = build_application(cfg)
        assert app.bot.base_url == f"{fake.url}/bot{TOKEN}"
        assert app.bot.base_file_url == f"{fake.url}/file/bot{TOKEN}"
        async with app:  # initialize → getMe on the fake
            await app.bot.send_message(CHAT, "hello")
        assert fake.methods()[:2] == ["getMe", "sendMessage"]
        assert fake.calls[1].params == {"chat_id": CHAT, "text": "hello"}
    finally:
        fake.close()


# -- the instance lock ---------------------------------------------------------------------------------

def test_owner_carries_host_and_pid():
    assert parse_owner(new_owner()) == (host_id(), os.getpid())
    assert socket.gethostname() in host_id()
    assert parse_owner("garbage") is None and parse_owner("h:x:y") is None


def test_dead_holder_on_this_host_is_taken_over_at_once(db):
    dead = f"{host_id()}:{dead_pid()}:deadbeef"
    hold(db, dead)
    me = new_owner()
    assert take_lock(db, me) is None
    assert holder(db) == me


def test_live_holder_is_refused(db):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = f"{host_id()}:{child.pid}:cafe0001"
        hold(db, live)
        refusal = take_lock(db, new_owner())
        assert refusal is not None and live in refusal and holder(db) == live
    finally:
        child.kill()
        child.wait()
    assert take_lock(db, me := new_owner()) is None and holder(db) == me  # now it is dead: taken over


def test_permission_error_means_alive(db, monkeypatch):
    def kill(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    hold(db, f"{host_id()}:{dead_pid()}:cafe0002")
    monkeypatch.setattr(lock.os, "kill", kill)
    assert take_lock(db, new_owner()) is not None


@pytest.mark.parametrize("owner", ["other-host:1:abc", "no-pid-here", f"{socket.gethostname()}#1:1:abc"])
def test_other_host_or_unparsable_holder_waits_for_staleness(db, owner):
    hold(db, owner)
    assert "Another bot instance" in (take_lock(db, new_owner()) or "")
    with session_scope(db) as s:  # 90 s without a heartbeat: stale, taken over as before
        row = lock_holder(session=s, name=LOCK_NAME)
        assert row is not None
        row.heartbeat_at = datetime.now(UTC) - timedelta(seconds=91)
        s.add(row)
    assert take_lock(db, me := new_owner()) is None and holder(db) == me


def test_our_pid_from_an_earlier_process_is_dead_but_ours_is_alive(db):
    hold(db, f"{host_id()}:{os.getpid()}:0ld0ld00")  # e.g. a container restart: pid 1 again
    first = new_owner()
    assert take_lock(db, first) is None
    assert take_lock(db, new_owner()) is not None  # another app in this process: alive
    assert holder(db) == first


def test_run_starts_at_once_after_a_dead_holder(db, db_url, capsys):
    hold(db, f"{host_id()}:{dead_pid()}:deadbeef")
    cfg = make_cfg(db_url)
    cfg.env.TELEGRAM_BOT_TOKEN = None  # the lock passes; the build then fails on the missing token, not with exit 3
    with pytest.raises(Exception, match="token"):
        run(cfg, demo=False, demo_seconds=0)
    assert "Refusing to start" not in capsys.readouterr().err
