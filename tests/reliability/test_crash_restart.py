"""Crash and restart: SIGKILL the bot (engine-level driver process) K times, often mid order-create; restart on
the same journal against a separate simulator process with a state file; the books must still agree."""

from __future__ import annotations

import pytest

from tests.reliability.crash import CrashRun

CI_KILLS = 10
LONG_KILLS = 50


def check(fig) -> None:  # noqa: ANN001
    print("\n" + "\n".join(f"  {line}" for line in fig.lines()))
    a = fig.audit
    assert fig.kill_modes.total() == fig.kills
    assert a.duplicate_entries == 0 and a.entries_without_approval == 0
    assert not fig.replay_executed_twice, "a confirmation executed twice"
    assert not fig.stuck_confirmations, "confirmations left unsettled after the final run"
    assert not a.open_mismatch and not a.unprotected_now, "an exchange position not tracked or not protected"
    assert not fig.problems, fig.problems


def test_crash_restart_short(tmp_path):
    check(CrashRun(CI_KILLS, tmp_path, seed=3).run())


@pytest.mark.slow
def test_crash_restart_long(tmp_path):
    check(CrashRun(LONG_KILLS, tmp_path, seed=4).run())
