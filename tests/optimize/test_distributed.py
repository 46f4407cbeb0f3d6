"""Optuna's distributed mode for real: two `bot.py optimize` workers on one PostgreSQL study, one SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy import text

from storage import make_engine
from tests.journals import PG_URL, _pg_schema_url, need_postgres
from tests.optimize.helpers import ROOT, write_config, write_data
from tradebot.optimize.study import quiet_optuna

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _postgres() -> None:
    need_postgres()  # skips without TEST_DATABASE_URL, fails in CI


TRIALS = 14


def _worker(cfg: str, data: tuple[str, str], url: str, study: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "bot.py",
                "--config",
                cfg,
                "optimize",
                "--symbol",
                "BTCUSDT",
                "--symbol",
                "ETHUSDT",
                "--interval",
                "5",
                "--data",
                *data,
                "--trials",
                str(TRIALS),
                "--workers",
                "1",
                "--storage",
                url,
                "--study",
                study,
                "--no-progress",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CONFIG_FILE": ""},
        )


def _states(study: optuna.Study) -> dict[TrialState, int]:
    out: dict[TrialState, int] = {}
    for t in study._storage.get_all_trials(study._study_id, deepcopy=False):
        out[t.state] = out.get(t.state, 0) + 1
    return out


def _running(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study._storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,))


def _finished(study: optuna.Study) -> int:
    s = _states(study)
    return s.get(TrialState.COMPLETE, 0) + s.get(TrialState.PRUNED, 0)


def test_killed_worker_loses_only_its_trial_which_is_retried(tmp_path: Path) -> None:
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(PG_URL or "")
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url, name = _pg_schema_url(schema), f"killtest-{uuid.uuid4().hex[:8]}"
    data, cfg = write_data(tmp_path, bars=4000), write_config(tmp_path)
    procs: list[subprocess.Popen[bytes]] = []
    storage = None
    try:
        procs.append(_worker(cfg, data, url, name, tmp_path / "victim.log"))
        with quiet_optuna():
            storage = optuna.storages.RDBStorage(url)
            deadline = time.monotonic() + 120
            study = None
            while study is None and time.monotonic() < deadline:  # the first worker creates schema and study
                try:
                    study = optuna.load_study(study_name=name, storage=storage)
                except KeyError:
                    time.sleep(0.2)
            assert study is not None, (tmp_path / "victim.log").read_text()
            procs.append(_worker(cfg, data, url, name, tmp_path / "survivor.log"))
            victim = procs[0].pid
            while time.monotonic() < deadline:  # freeze the victim; kill it only if it is inside a trial
                if _finished(study) >= 2 and _running(study):
                    procs[0].send_signal(signal.SIGSTOP)
                    mine = [
                        t for t in _running(study) if t.user_attrs.get("worker", "").endswith(f":{victim}")
                    ]
                    if mine and len(mine[0].params) == 3:
                        procs[0].send_signal(
                            signal.SIGKILL
                        )  # mid-backtest: its trial stays RUNNING, no heartbeat
                        break
                    procs[0].send_signal(signal.SIGCONT)
                time.sleep(0.02)
            else:
                pytest.fail(f"the victim never ran a trial: {_states(study)}")
            procs[0].wait(10)
            assert procs[1].wait(180) == 0, (tmp_path / "survivor.log").read_text()
            trials = study.get_trials(deepcopy=False)
        s = _states(study)
        finished = s.get(TrialState.COMPLETE, 0) + s.get(TrialState.PRUNED, 0)
        assert s.get(TrialState.FAIL, 0) == 1, s  # only the killed worker's trial was lost...
        assert not s.get(TrialState.RUNNING) and not s.get(TrialState.WAITING), (
            s
        )  # ...and none is left hanging
        assert TRIALS <= finished <= TRIALS + 2, (
            s
        )  # counts add up: + the retry, + a racing last trial at most
        [failed] = [t for t in trials if t.state == TrialState.FAIL]
        retries = [t for t in trials if t.system_attrs.get("failed_trial") == failed.number]
        assert len(retries) == 1 and retries[0].params == failed.params  # retried once, same parameters
        assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
        assert (
            len({t.number for t in trials}) == len(trials) == finished + 1
        )  # nothing duplicated or left over
        assert "study " + name in (tmp_path / "survivor.log").read_text()
    finally:
        if storage is not None:
            storage.engine.dispose()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
