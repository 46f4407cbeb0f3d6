"""SIGKILL ``bot.py`` K times and restart it on the same journal: the books must agree (engine-level: slow)."""

from __future__ import annotations

import pytest

from tests.reliability.audit import CENT
from tests.reliability.botcrash import BotCrashRun
from tests.reliability.crash import CrashRun

CI_KILLS = 10
LONG_KILLS = 50


def check_bot(fig) -> None:  # noqa: ANN001
    print("\n" + "\n".join(f"  {line}" for line in fig.lines()))
    a = fig.audit
    assert fig.kill_modes.total() == fig.kills and not fig.refused, "a restart after SIGKILL was refused"
    assert max(fig.start_seconds) < 30
    assert a.duplicate_entries == 0 and a.entries_without_approval == 0
    assert not fig.stuck_confirmations, "a confirmation left approved/executing"
    assert not a.open_mismatch and not a.unprotected_now, "an exchange position not tracked or not protected"
    assert a.journal_pnl.quantize(CENT) == a.sim_pnl.quantize(CENT), "journal PnL != exchange closed-pnl"
    assert fig.final_exit == 0 and fig.lock_left is None
    assert not fig.problems, fig.problems


def check_engine(fig) -> None:  # noqa: ANN001
    print("\n" + "\n".join(f"  {line}" for line in fig.lines()))
    a = fig.audit
    assert fig.kill_modes.total() == fig.kills
    assert a.duplicate_entries == 0 and a.entries_without_approval == 0
    assert not fig.replay_executed_twice, "a confirmation executed twice"
    assert not fig.stuck_confirmations, "confirmations left unsettled after the final run"
    assert not a.open_mismatch and not a.unprotected_now, "an exchange position not tracked or not protected"
    assert not fig.problems, fig.problems


def test_bot_py_crash_restart_short(tmp_path):
    check_bot(BotCrashRun(CI_KILLS, tmp_path, seed=3).run())


@pytest.mark.slow
def test_bot_py_crash_restart_long(tmp_path):
    check_bot(BotCrashRun(LONG_KILLS, tmp_path, seed=4).run())


@pytest.mark.slow
def test_engine_crash_restart_short(tmp_path):
    check_engine(CrashRun(CI_KILLS, tmp_path, seed=3).run())


@pytest.mark.slow
def test_engine_crash_restart_long(tmp_path):
    check_engine(CrashRun(LONG_KILLS, tmp_path, seed=4).run())
