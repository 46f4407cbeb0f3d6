"""The money invariants under everything a real account does (issue 19), as a hypothesis state machine driving the
real bot against the simulator over HTTP and streams (:mod:`tests.money.machine`).

CI runs a small fixed run (derandomized, no example database) and replays the paths the machine found
(:mod:`tests.money.paths`); ``-m slow`` runs ≥ 10,000 steps (``python -m tests.money --long`` writes its figures
into RELIABILITY.md). Nothing is skipped: a broken promise fails with the steps that break it.
"""

from __future__ import annotations

import pytest
from hypothesis.stateful import run_state_machine_as_test

from tests.money.machine import MoneyMachine
from tests.money.paths import PATHS, replay
from tests.money.run import ci_settings, long_settings


def test_money_promises_hold_under_a_real_accounts_life():
    run_state_machine_as_test(MoneyMachine, settings=ci_settings())


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_paths_the_machine_found(path):
    replay(*PATHS[path])


@pytest.mark.slow
def test_money_promises_hold_over_ten_thousand_steps():
    run_state_machine_as_test(MoneyMachine, settings=long_settings(350, 40))
