"""Optuna plumbing: shared storage with heartbeats and retry, the study, the objective and the worker processes."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from storage.db import normalize_url
from tradebot.optimize.evaluate import Evaluator
from tradebot.optimize.settings import OptimizeSettings, ParamSpec
from tradebot.optimize.windows import Plan
from tradebot.settings.overrides import apply_changes, current_value
from tradebot.sizing.execution import MARKET_ENTRIES, ExecutionSettings
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams

DEFAULT_STORAGE = Path("data/cache/optuna.db")
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_RETRY = 3
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"  # which host and process ran a trial (set per process)


class StudyMismatch(ValueError):
    """An existing study of that name was created over other data or settings."""


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna marks heartbeats and retry as experimental and logs every trial: neither belongs in our output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # Optuna's RDB schema setup chatters at INFO
        yield


def storage_url(arg: str | None) -> str:
    """``--storage`` as SQLAlchemy wants it; the default is a SQLite file every local worker shares."""
    if not arg:
        DEFAULT_STORAGE.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{DEFAULT_STORAGE}"
    url = normalize_url(arg.strip())
    make_url(url)  # raises ArgumentError on garbage
    if not url.startswith(("sqlite", "postgresql", "mysql")):
        raise ValueError("must be a postgresql://user:password@host:5432/db (or sqlite:///file.db) URL")
    return url


def safe_url(url: str) -> str:
    """The storage URL for output: never the password."""
    return make_url(url).render_as_string(hide_password=True)


def make_storage(url: str, heartbeat: int) -> RDBStorage:
    """RDB storage with heartbeats: a worker silent for 2 × ``heartbeat`` s has its trial failed and re-queued."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 120}}
    with quiet_optuna():
        return RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=heartbeat, grace_period=2 * heartbeat,
                          heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY))


def fingerprint(frames: dict[str, pd.DataFrame], interval: str, settings: OptimizeSettings, risk: RiskParams,
                strategy: StrategyParams, plan: Plan, execution: ExecutionSettings = MARKET_ENTRIES) -> dict[str, str]:
    """Hashes of the data and of everything that changes a trial's score: workers must agree on both."""
    h = hashlib.sha256()
    for symbol in sorted(frames):
        df = frames[symbol]
        h.update(symbol.encode())
        h.update(pd.util.hash_pandas_object(df[["open", "high", "low", "close", "volume"]], index=True).to_numpy())
    setup = json.dumps({"interval": interval, "optimize": settings.model_dump(mode="json", exclude={"top", "holdout_top",
                        "overfit_ratio", "heartbeat_seconds", "seed"}), "risk": risk.model_dump(mode="json"),
                        "strategy": strategy.model_dump(mode="json"), "execution": execution.model_dump(mode="json"),
                        "windows": [[w.train.start_ms, w.test.start_ms, w.test.end_ms] for w in plan.windows]},
                       sort_keys=True)
    return {"data": h.hexdigest()[:16], "setup": hashlib.sha256(setup.encode()).hexdigest()[:16]}


def study_name(symbols: list[str], interval: str, objective: str, fp: dict[str, str]) -> str:
    digest = hashlib.sha256((fp["data"] + fp["setup"]).encode()).hexdigest()[:10]
    return f"{'-'.join(symbols)}-{interval}-{objective}-{digest}"


def suggest(trial: optuna.Trial, path: str, spec: ParamSpec, like: object) -> object:
    if spec.choices is not None:
        return trial.suggest_categorical(path, spec.choices)
    assert spec.low is not None and spec.high is not None
    if isinstance(like, int) and not isinstance(like, bool):
        return trial.suggest_int(path, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log)
    return round(trial.suggest_float(path, spec.low, spec.high, step=spec.step, log=spec.log), 10)


@dataclass
class Job:
    """Everything a worker process needs (picklable: sent to spawned processes)."""

    url: str
    study: str
    trials: int
    settings: OptimizeSettings
    risk: RiskParams
    strategy: StrategyParams
    frames: dict[str, pd.DataFrame]
    plan: Plan
    worker: int = 0
    execution: ExecutionSettings = MARKET_ENTRIES  # how the backtests send entries (the live [execution])


def objective_for(job: Job, evaluator: Evaluator) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", WORKER_ID)
        changes = {path: suggest(trial, path, spec, current_value(path, job.risk, job.strategy))
                   for path, spec in job.settings.params.items()}
        try:
            risk, strategy = apply_changes(job.risk, job.strategy, changes)
        except ValidationError as exc:
            trial.set_user_attr("rejected", exc.errors()[0]["msg"].removeprefix("Value error, "))
            raise optuna.TrialPruned() from None
        ev = evaluator.evaluate(risk, strategy)
        for key, value in ev.attrs().items():
            trial.set_user_attr(key, value)
        trades = ev.totals(ev.oos_parts)["trades"]
        if trades < job.settings.min_trades:
            trial.set_user_attr("rejected", f"{trades} out-of-sample trade(s), fewer than min_trades "
                                f"{job.settings.min_trades}")
            raise optuna.TrialPruned()
        return ev.oos_score
    return objective


def open_study(job: Job, fp: dict[str, str] | None = None) -> optuna.Study:
    """Create or join the study; with ``fp``, refuse a study made over other data or settings."""
    with quiet_optuna():
        seed = None if job.settings.seed is None else job.settings.seed + job.worker
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        study = optuna.create_study(study_name=job.study, storage=make_storage(job.url, job.settings.heartbeat_seconds),
                                    sampler=sampler, direction="maximize", load_if_exists=True)
    if fp is not None:
        have = study.user_attrs.get("fingerprint")
        if have is None:
            study.set_user_attr("fingerprint", fp)
        elif have != fp:
            what = " and ".join(k for k in ("data", "setup") if have.get(k) != fp.get(k))
            raise StudyMismatch(f"study {job.study!r} was started over different {what}: use the same data and "
                                "config on every worker, or another --study name")
    return study


def counted(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def run_worker(job: Job, callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] | None = None) -> None:
    """Run trials until the study holds ``job.trials`` finished ones (other workers' trials count too)."""
    with quiet_optuna():
        study = open_study(job)
        if counted(study) >= job.trials:
            return
        evaluator = Evaluator(job.frames, job.plan, job.settings.objective, job.settings.balance,
                              execution=job.execution)
        objective = objective_for(job, evaluator)
        stop = optuna.study.MaxTrialsCallback(job.trials, states=COUNTED)
        study.optimize(objective, callbacks=[stop, *(callbacks or [])], gc_after_trial=False)
        _finish_retries(study, objective, job.settings.heartbeat_seconds, callbacks or [])


def _finish_retries(study: optuna.Study, objective: Callable[[optuna.Trial], float], heartbeat: int,
                    callbacks: list[Callable[[optuna.Study, FrozenTrial], None]]) -> None:
    """Before leaving, wait for the trials still running: one whose worker died (no heartbeat for 2 × heartbeat)
    is failed and re-queued, and run here, so a killed worker's trial is never silently dropped."""
    patience = time.monotonic() + max(60.0, 8.0 * heartbeat)
    while time.monotonic() < patience:
        optuna.storages.fail_stale_trials(study)
        waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        if waiting:
            study.optimize(objective, n_trials=waiting, callbacks=callbacks, gc_after_trial=False)
            patience = time.monotonic() + max(60.0, 8.0 * heartbeat)
            continue
        if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            return
        time.sleep(min(1.0, heartbeat / 2))


def close_study(study: optuna.Study) -> None:
    """Close the storage's database connections (Optuna wraps RDBStorage in a cache layer)."""
    storage = getattr(study, "_storage", None)
    backend = getattr(storage, "_backend", storage)
    engine = getattr(backend, "engine", None)
    if engine is not None:
        engine.dispose()


def _worker_main(job: Job) -> None:  # pragma: no cover - runs in a spawned process
    try:
        run_worker(job)
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # one line, not a traceback per worker; the trial is marked failed in the study
        print(f"optimize worker {job.worker} stopped: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


def spawn_workers(job: Job, n: int) -> list[multiprocessing.process.BaseProcess]:
    ctx = multiprocessing.get_context("spawn")
    procs: list[multiprocessing.process.BaseProcess] = []
    for i in range(n):
        job_i = Job(**{**job.__dict__, "worker": job.worker + i})
        p = ctx.Process(target=_worker_main, args=(job_i,), name=f"optimize-worker-{i}", daemon=True)
        p.start()
        procs.append(p)
    return procs


def best_value(study: optuna.Study) -> float | None:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max((t.value for t in done if t.value is not None), default=None)


def wait_for(study: optuna.Study, procs: list[multiprocessing.process.BaseProcess],
             on_progress: Callable[[int, float | None], None], poll: float = 1.0) -> None:
    """Report progress until every worker process has exited."""
    while any(p.is_alive() for p in procs):
        on_progress(counted(study), best_value(study))
        time.sleep(poll)
    on_progress(counted(study), best_value(study))
