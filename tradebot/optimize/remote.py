"""/optimize from the chat: fetch candles through the client, run a small walk-forward study in a thread, render."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from tradebot.backtest.download import fetch_range
from tradebot.bybit.client import BybitClient
from tradebot.errors import ExchangeError, UserError
from tradebot.market import frame_from_rows, interval_ms
from tradebot.optimize.evaluate import Evaluator
from tradebot.optimize.plot import best_curves, render
from tradebot.optimize.report import OptimizeReport, build_report, render_report
from tradebot.optimize.settings import OptimizeSettings, check_spec
from tradebot.optimize.study import COUNTED, Job, best_value, objective_for, quiet_optuna
from tradebot.optimize.windows import DAY_MS, plan
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


def _study(job: Job, evaluator: Evaluator, progress: Progress) -> optuna.Study:
    """In-memory study in this (worker) thread; ``progress`` after every finished trial."""
    with quiet_optuna():
        sampler = optuna.samplers.TPESampler(seed=job.settings.seed)
        study = optuna.create_study(direction="maximize", sampler=sampler, study_name=job.study)

        def cb(s: optuna.Study, t: FrozenTrial) -> None:
            progress(len(s.get_trials(deepcopy=False, states=COUNTED)), job.trials, best_value(s))

        study.optimize(objective_for(job, evaluator), n_trials=job.trials, callbacks=[cb], gc_after_trial=False)
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
    job = Job("", f"chat-{symbol}-{interval}-{days}d", trials, settings, risk, strategy, {symbol: df}, the_plan)
    evaluator = Evaluator({symbol: df}, the_plan, settings.objective, settings.balance)
    study = await asyncio.to_thread(_study, job, evaluator, progress)

    def finish() -> tuple[OptimizeReport, bytes]:
        with quiet_optuna():
            rep = build_report(study, storage="memory", symbols=[symbol], interval=interval, settings=settings,
                               risk=risk, strategy=strategy, plan=the_plan, evaluator=evaluator)
            eq, bh = best_curves(rep, evaluator)
            return rep, render(study, rep, eq, bh)["summary"]

    rep, png = await asyncio.to_thread(finish)
    if (last - first) / DAY_MS < days - 0.5:
        rep.notes.append(f"Only {(last - first) / DAY_MS:.1f} day(s) of {symbol} history were available "
                         f"(asked for {days}).")
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    summary = render_report(rep) + (f"\n{failed} trial(s) failed." if failed else "")
    return OptimizeOutcome(summary, png, {p: as_plain(new) for p, (_, new) in rep.changes.items()}, rep)
