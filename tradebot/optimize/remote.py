"""/optimize from the chat: fetch candles through the client, run a small walk-forward study in a thread, render."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState

from tradebot.backtest.download import fetch_range
from tradebot.bybit.client import BybitClient
from tradebot.errors import ExchangeError, UserError
from tradebot.market import frame_from_rows, interval_ms
from tradebot.optimize.evaluate import Evaluator
from tradebot.optimize.plot import best_curves, render
from tradebot.optimize.report import OptimizeReport, build_report, render_report
from tradebot.optimize.settings import OptimizeSettings, check_spec
from tradebot.optimize.study import (
    Job,
    best_value,
    close_study,
    counted,
    open_study,
    quiet_optuna,
    spawn_workers,
)
from tradebot.optimize.windows import DAY_MS, Plan, plan
from tradebot.overrides import as_plain
from tradebot.risk import RiskParams
from tradebot.strategy import StrategyParams

MAX_DAYS = 365
MAX_TRIALS = 500
Progress = Callable[[int, int, float | None], None]  # (trials done, trials wanted, best score)


@dataclass(frozen=True)
class OptimizeOutcome:
    summary: str
    png: bytes
    changes: dict[str, object]  # dotted path -> best value (JSON-safe), only what differs from the live settings
    report: OptimizeReport


def parse_args(days_text: str, trials_text: str) -> tuple[int, int]:
    try:
        days, trials = int(days_text), int(trials_text)
    except ValueError:
        raise UserError(f"DAYS and TRIALS must be whole numbers (DAYS 1-{MAX_DAYS}, TRIALS 1-{MAX_TRIALS}).") from None
    if not 1 <= days <= MAX_DAYS:
        raise UserError(f"DAYS must be from 1 to {MAX_DAYS}.")
    if not 1 <= trials <= MAX_TRIALS:
        raise UserError(f"TRIALS must be from 1 to {MAX_TRIALS}.")
    return days, trials


async def _study(job: Job, progress: Progress, poll: float = 1.0) -> optuna.Study:
    """Run the study in a separate worker process (the bot's event loop keeps its CPU), polling its progress."""
    with quiet_optuna():
        study = await asyncio.to_thread(open_study, job)
    procs = spawn_workers(job, 1)
    try:
        while any(p.is_alive() for p in procs):
            await asyncio.sleep(poll)
            done, best = await asyncio.to_thread(lambda: (counted(study), best_value(study)))
            progress(done, job.trials, best)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=10)
    return study


async def optimize_recent(client: BybitClient, settings: OptimizeSettings, risk: RiskParams,
                          strategy: StrategyParams, interval: str, warmup_bars: int, symbol: str, days: int,
                          trials: int, end_ms: int, progress: Progress) -> OptimizeOutcome:
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
                  risk, strategy, {symbol: df}, the_plan)
        study = await _study(job, progress)
        try:
            return await _outcome(study, settings, risk, strategy, the_plan, symbol, interval, days,
                                  (last - first) / DAY_MS, df)
        finally:
            close_study(study)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _outcome(study: optuna.Study, settings: OptimizeSettings, risk: RiskParams, strategy: StrategyParams,
                   the_plan: Plan, symbol: str, interval: str, days: int, covered: float,
                   df: pd.DataFrame) -> OptimizeOutcome:
    evaluator = Evaluator({symbol: df}, the_plan, settings.objective, settings.balance)

    def finish() -> tuple[OptimizeReport, bytes]:
        with quiet_optuna():
            rep = build_report(study, storage="a temporary study of this bot", symbols=[symbol], interval=interval, settings=settings,
                               risk=risk, strategy=strategy, plan=the_plan, evaluator=evaluator)
            eq, bh = best_curves(rep, evaluator)
            return rep, render(study, rep, eq, bh)["summary"]

    rep, png = await asyncio.to_thread(finish)
    if covered < days - 0.5:
        rep.notes.append(f"Only {covered:.1f} day(s) of {symbol} history were available (asked for {days}).")
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    summary = render_report(rep) + (f"\n{failed} trial(s) failed." if failed else "")
    return OptimizeOutcome(summary, png, {p: as_plain(new) for p, (_, new) in rep.changes.items()}, rep)
