"""/optimize from the chat: fetch candles through the client on the event loop, then run a small walk-forward study
and render its report in a worker process (``cpu``: the heavy queue's pool, see ``tradebot/chat/heavy.py``), polled."""

from __future__ import annotations

import asyncio
import functools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from tradebot.backtest.download import fetch_range
from tradebot.bybit.client import BybitClient
from tradebot.chat.heavy import Cpu, in_thread
from tradebot.errors import ExchangeError, UserError
from tradebot.market import frame_from_rows, interval_ms
from tradebot.optimize.evaluate import Evaluator
from tradebot.optimize.plot import best_curves, render
from tradebot.optimize.report import build_report, render_report
from tradebot.optimize.settings import OptimizeSettings, check_spec
from tradebot.optimize.study import (
    Job,
    best_value,
    close_study,
    counted,
    open_study,
    quiet_optuna,
    run_worker,
)
from tradebot.optimize.windows import DAY_MS, plan
from tradebot.parsing import whole
from tradebot.settings.overrides import as_plain
from tradebot.sizing.execution import MARKET_ENTRIES, ExecutionSettings
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams

MAX_DAYS = 365
MAX_TRIALS = 500
Progress = Callable[[int, int, float | None], None]  # (trials done, trials wanted, best score)


@dataclass(frozen=True)
class OptimizeOutcome:
    summary: str
    png: bytes
    changes: dict[str, object]  # dotted path -> best value (JSON-safe), only what differs from the live settings
    warning: str | None = None  # the report's headline when the best trial loses money (see report.losses)


def parse_args(days_text: str, trials_text: str) -> tuple[int, int]:
    try:
        days, trials = whole(days_text), whole(trials_text)  # ASCII digits only
    except ValueError:
        raise UserError(f"DAYS and TRIALS must be whole numbers (DAYS 1-{MAX_DAYS}, TRIALS 1-{MAX_TRIALS}).") from None
    if not 1 <= days <= MAX_DAYS:
        raise UserError(f"DAYS must be from 1 to {MAX_DAYS}.")
    if not 1 <= trials <= MAX_TRIALS:
        raise UserError(f"TRIALS must be from 1 to {MAX_TRIALS}.")
    return days, trials


async def _study(job: Job, progress: Progress, cpu: Cpu, finish: Callable[[Job], OptimizeOutcome],
                 poll: float = 1.0) -> OptimizeOutcome:
    """Run the study and its report through ``cpu`` (a worker process), polling the study's progress meanwhile."""
    with quiet_optuna():
        study = await asyncio.to_thread(open_study, job)  # created here, so progress can be read from the start
    try:
        work = asyncio.ensure_future(cpu(finish, job))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=poll)
                done, best = await asyncio.to_thread(lambda: (counted(study), best_value(study)))
                progress(done, job.trials, best)
            return work.result()
        finally:
            work.cancel()
    finally:
        close_study(study)


async def optimize_recent(client: BybitClient, settings: OptimizeSettings, risk: RiskParams,
                          strategy: StrategyParams, interval: str, warmup_bars: int, symbol: str, days: int,
                          trials: int, end_ms: int, progress: Progress, cpu: Cpu = in_thread,
                          execution: ExecutionSettings = MARKET_ENTRIES) -> OptimizeOutcome:
    """Walk-forward search over the last ``days`` of ``symbol`` from the live settings, without blocking the loop."""
    for path, spec in settings.params.items():
        problem = check_spec(path, spec, risk, strategy)
        if problem:
            raise UserError(f"optimize.params.{path}: {problem}")
    step = interval_ms(interval)
    assert step is not None
    start_ms = end_ms - days * DAY_MS
    try:
        rows, _ = await fetch_range(client, symbol, interval, start_ms - warmup_bars * step, end_ms)
    except ExchangeError as exc:
        raise UserError(f"Could not load {symbol} candles: {exc}") from exc
    closed = [rows[t] for t in sorted(rows) if t + step <= end_ms]
    if len(closed) <= warmup_bars + 20:
        raise UserError(f"Not enough {symbol} history to optimize ({len(closed)} candles).")
    df = frame_from_rows(closed)
    first = max(int(closed[warmup_bars][0]), start_ms)
    last = int(closed[-1][0]) + step
    try:
        the_plan = plan(first, last, step, settings.windows, settings.train_ratio, settings.holdout_pct)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    folder = tempfile.mkdtemp(prefix="tradebot-optimize-")
    try:
        job = Job(f"sqlite:///{Path(folder) / 'study.db'}", f"chat-{symbol}-{interval}-{days}d", trials, settings,
                  risk, strategy, {symbol: df}, the_plan, execution=execution)
        finish = functools.partial(study_outcome, symbol=symbol, interval=interval, days=days,
                                   covered=(last - first) / DAY_MS)
        return await _study(job, progress, cpu, finish)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def study_outcome(job: Job, *, symbol: str, interval: str, days: int, covered: float) -> OptimizeOutcome:
    """The CPU part (a worker process): run the study's trials, then its report, PNG and summary. Plain data out."""
    run_worker(job)
    with quiet_optuna():
        study = open_study(job)
    try:
        return _outcome(study, job, symbol, interval, days, covered)
    finally:
        close_study(study)


def _outcome(study: optuna.Study, job: Job, symbol: str, interval: str, days: int, covered: float) -> OptimizeOutcome:
    settings = job.settings
    evaluator = Evaluator(job.frames, job.plan, settings.objective, settings.balance, execution=job.execution)
    with quiet_optuna():
        rep = build_report(study, storage="a temporary study of this bot", symbols=[symbol], interval=interval,
                           settings=settings, risk=job.risk, strategy=job.strategy, plan=job.plan, evaluator=evaluator)
        eq, bh = best_curves(rep, evaluator)
        png = render(study, rep, eq, bh)["summary"]
    if covered < days - 0.5:
        rep.notes.append(f"Only {covered:.1f} day(s) of {symbol} history were available (asked for {days}).")
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    summary = render_report(rep) + (f"\n{failed} trial(s) failed." if failed else "")
    return OptimizeOutcome(summary, png, {p: as_plain(new) for p, (_, new) in rep.changes.items()}, rep.headline)
