"""Conflict stop, DB instance lock, health alerts, the error handler, and the --demo end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.jobs import check_health
from storage.db import init_db, make_engine, session_scope
from storage.lock import LOCK_NAME
from storage.runtime import acquire_lock
from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import CHAT, Rig, make_cfg
from tradebot.tick.engine import TickStatus
from wiring.app import InstanceLocked
from wiring.process import run

ROOT = Path(__file__).resolve().parents[2]


async def test_conflict_stops_the_bot_cleanly(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.hub.fail_next("getUpdates", "conflict")
    await rig.hub._wait(lambda: True if rig.deps.stopping.is_set() else None, 5)
    assert rig.deps.stopping.is_set() and rig.deps.exit_code == 3
    assert "Another process is polling Telegram with this bot token" in caplog.text


async def test_conflict_via_error_handler_as_run_polling_reports_it(rig: Rig) -> None:
    from telegram.error import Conflict

    await rig.app.process_error(None, Conflict("Conflict: terminated by other getUpdates request"))
    assert rig.deps.stopping.is_set() and rig.deps.exit_code == 3


def _hold_lock(url: str) -> None:
    db = make_engine(url)
    init_db(db)
    with session_scope(db) as s:
        assert acquire_lock(session=s, name=LOCK_NAME, owner="other-host:1:abc", now=datetime.now(UTC),
                            stale_after=timedelta(seconds=90))
    db.dispose()


def test_run_refuses_when_another_instance_holds_the_lock(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _hold_lock(db_url)
    cfg = make_cfg(db_url)
    cfg.env.TELEGRAM_BOT_TOKEN = None  # never reached: the lock is checked before any network call
    assert run(cfg, demo=False, demo_seconds=0) == 3
    err = capsys.readouterr().err
    assert "Refusing to start" in err and "other-host:1:abc" in err


async def test_post_init_refuses_too(make_rig, db_url: str) -> None:
    _hold_lock(db_url)
    with pytest.raises(InstanceLocked, match="Another bot instance"):
        await make_rig()


async def test_health_alert_for_a_stalled_symbol(rig: Rig) -> None:
    deps = rig.deps
    old = deps.clock() - timedelta(seconds=deps.cfg.bot.loop_seconds * 4)
    deps.engine.last_ticks[SYMBOL] = TickStatus(old, True)
    problems = await check_health(deps)
    assert problems and "no trading tick has completed" in problems[0]
    await rig.hub.wait_for(lambda m: "🩺" in m.plain and SYMBOL in m.plain)
    assert await check_health(deps) == problems  # alerted once, not every check
    deps.engine.last_ticks[SYMBOL] = TickStatus(deps.clock(), True)
    assert await check_health(deps) == []
    await rig.hub.wait_for(lambda m: "Recovered" in m.plain)


async def test_polling_silence_is_a_health_problem(rig: Rig) -> None:
    from handlers.deps import PollTracker

    rig.deps.poll = PollTracker(rig.hub.request())
    rig.deps.engine.last_ticks[SYMBOL] = TickStatus(rig.deps.clock(), True)
    problems = await check_health(rig.deps, now_mono=rig.deps.poll.last_ok + 600)
    assert problems == [p for p in problems if "polling has received no answer" in p] and problems


async def test_unexpected_error_is_logged_and_admin_told(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("kaput")

    rig.deps.service.client.wallet = boom  # type: ignore[method-assign]  # what /balance reads
    reply = await rig.send("/balance")
    assert "went wrong" in reply.plain or "kaput" in reply.plain
    await rig.hub.wait_for(lambda m: m.chat_id == CHAT and "RuntimeError: kaput" in m.plain)
    assert "kaput" in caplog.text and any(r.exc_info for r in caplog.records)


def test_demo_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "PTB_TIMEDELTA": "true", "TMPDIR": str(tmp_path)}  # the demo keeps its folder
    env.pop("CONFIG_FILE", None)
    proc = subprocess.run([sys.executable, "bot.py", "--demo", "--demo-seconds", "40"], input="/status\n/positions\n/pnl\n",
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=90)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "approve?" in out and "[1] ✅ Approve  [2] ❌ Reject" in out  # a confirmation card
    assert "demo: auto-approving" in out and "Executed" in out
    assert "you ▸ /status" in out and "last tick" in out
    assert "you ▸ /positions" in out and ("Open positions" in out or "No open positions." in out)
    assert "you ▸ /pnl" in out and "PnL today" in out
    assert "=== DEMO SUMMARY ===" in out and "Closed trades:" in out and "Open positions:" in out
    assert "Traceback" not in proc.stderr
