"""`bot.py optimize`: load candles, plan the walk-forward, run the study on N workers, report, JSON, PNGs, TOML."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx
import optuna
import pandas as pd
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from tqdm import tqdm

from tradebot.backtest.data import load_candles
from tradebot.backtest.download import cache_path, download
from tradebot.errors import TradebotError
from tradebot.market import DAY_MS, fit_interval, index_ms, interval_ms
from tradebot.optimize.evaluate import Evaluator
from tradebot.optimize.plot import best_curves, render, write_pngs
from tradebot.optimize.report import build_report, render_report, write_json
from tradebot.optimize.settings import OptimizeSettings, check_spec
from tradebot.optimize.study import (
    Job,
    StudyMismatch,
    best_value,
    close_study,
    counted,
    fingerprint,
    open_study,
    quiet_optuna,
    run_worker,
    safe_url,
    spawn_workers,
    storage_url,
    study_name,
    wait_for,
)
from tradebot.optimize.windows import Plan, plan
from tradebot.settings.config import INTERVALS, Config, _errors


def load_frames(args: argparse.Namespace, cfg: Config, symbols: list[str]) -> tuple[dict[str, pd.DataFrame], int, int]:
    """Candles per symbol and the tradable span [start, end) every symbol covers (earlier bars warm up)."""
    step = interval_ms(args.interval) or DAY_MS
    frames: dict[str, pd.DataFrame] = {}
    end_cap: int | None = None
    for i, symbol in enumerate(symbols):
        if args.data:
            df, q = load_candles(args.data[i], report=lambda line: print(line, file=sys.stderr))
            frames[symbol] = fit_interval(df, q.interval_ms, args.interval)
        else:
            warm = -(-cfg.bot.candles * step // DAY_MS)
            rep = asyncio.run(download(symbol, args.interval, args.days + warm + 1, cache_path(symbol, args.interval),
                                       progress=not args.no_progress))
            frames[symbol], _ = load_candles(rep.path, report=lambda line: None)
            end_cap = (int(index_ms(frames[symbol].index)[-1]) // DAY_MS) * DAY_MS  # whole UTC days: stable names
    ts = {s: index_ms(df.index) for s, df in frames.items()}
    warmup = cfg.bot.candles
    for s, t in ts.items():
        if t.size <= warmup + 10:
            raise ValueError(f"{s}: only {t.size} candles; need more than the {warmup} warm-up bars")
    start = max(int(t[warmup]) for t in ts.values())
    end = min(int(t[-1]) + step for t in ts.values())
    if end_cap is not None:
        end = min(end, end_cap)
        start = max(start, end - args.days * DAY_MS)
    if end - start < 10 * step:
        raise ValueError("the symbols' candles hardly overlap in time: use files covering the same period")
    frames = {s: df.loc[df.index < pd.Timestamp(end, unit="ms", tz="UTC")] for s, df in frames.items()}
    return frames, start, end


def _settings(args: argparse.Namespace, cfg: Config) -> OptimizeSettings:
    over = {k: v for k, v in (("objective", args.objective), ("holdout_pct", args.holdout),
                               ("windows", args.windows)) if v is not None}
    return OptimizeSettings.model_validate({**cfg.optimize.model_dump(), **over}) if over else cfg.optimize


def _bad(key: str, value: object, allowed: str) -> int:
    print(f"Bad argument — optimize did not start:\n  {key} = {value!r}: {allowed}", file=sys.stderr)
    return 2


def run_optimize_cli(args: argparse.Namespace, cfg: Config) -> int:
    """Entry point of ``bot.py optimize``. Exit 0 done, 1 data/network/storage trouble, 2 bad arguments."""
    symbols = [s.strip().upper() for s in args.symbol]
    if len(set(symbols)) != len(symbols):
        return _bad("--symbol", symbols, "each symbol once")
    if args.interval not in INTERVALS:
        return _bad("--interval", args.interval, "1 3 5 15 30 60 120 240 360 720 or D")
    if args.data and len(args.data) != len(symbols):
        return _bad("--data", args.data, f"one file per --symbol ({len(symbols)}), in the same order")
    for flag, value, low in (("--trials", args.trials, 1), ("--workers", args.workers, 1), ("--days", args.days, 1)):
        if value is not None and value < low:
            return _bad(flag, value, f"a whole number >= {low}")
    try:
        settings = _settings(args, cfg)
    except ValidationError as exc:
        err = _errors(exc, "optimize.")[0]
        return _bad(err.key, err.value, err.allowed)
    try:
        url = storage_url(args.storage)
    except (ValueError, ArgumentError) as exc:
        return _bad("--storage", "<not shown: may hold a password>", str(exc))
    for path, spec in settings.params.items():
        problem = check_spec(path, spec, cfg.risk, cfg.strategy)
        if problem:
            return _bad(f"optimize.params.{path}", spec.describe(), problem)
    try:
        frames, start, end = load_frames(args, cfg, symbols)
        the_plan = plan(start, end, interval_ms(args.interval) or DAY_MS, settings.windows, settings.train_ratio,
                        settings.holdout_pct)
    except (ValueError, OSError, TradebotError, httpx.HTTPError) as exc:
        print(f"optimize failed: {exc}", file=sys.stderr)
        return 1
    fp = fingerprint(frames, args.interval, settings, cfg.risk, cfg.strategy, the_plan, cfg.execution)
    name = args.study or study_name(symbols, args.interval, settings.objective, fp)
    job = Job(url, name, args.trials, settings, cfg.risk, cfg.strategy, frames, the_plan, execution=cfg.execution)
    try:
        study = open_study(job, fp)
        before, t0 = counted(study), time.perf_counter()
        print(f"study {name} on {safe_url(url)}: {before} of {args.trials} trial(s) already done; "
              f"{args.workers} worker(s)", file=sys.stderr)
        _run(job, study, args.workers, before, args.no_progress)
        done = counted(study) - before
        elapsed = time.perf_counter() - t0
    except StudyMismatch as exc:
        return _bad("--study", name, str(exc))
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials are kept; run the same command again to continue", file=sys.stderr)
        return 130
    except (ValueError, TradebotError) as exc:  # e.g. a symbol without candles in one of the windows
        print(f"optimize failed: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"optimize failed: study storage {safe_url(url)}: {exc.__class__.__name__}: "
              f"{str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    try:
        return _report(args, cfg, study, job, symbols, settings, the_plan,
                       done / (elapsed / 60) if done and elapsed > 0 else None)
    finally:
        close_study(study)


def _run(job: Job, study: optuna.Study, workers: int, before: int, no_progress: bool) -> None:
    bar = tqdm(total=job.trials, initial=min(before, job.trials), unit="trial", desc="optimize",
               disable=no_progress, dynamic_ncols=True)

    def progress(n: int, best: float | None) -> None:
        bar.update(max(0, min(n, job.trials) - bar.n))
        if best is not None:
            bar.set_postfix_str(f"best {best:.3f}")

    try:
        if before >= job.trials:
            return
        if workers == 1:
            run_worker(job, callbacks=[lambda s, t: progress(counted(s), best_value(s))])
            return
        procs = spawn_workers(job, workers)
        try:
            wait_for(study, procs, progress)
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
                p.join(timeout=10)
    finally:
        bar.close()


def _report(args: argparse.Namespace, cfg: Config, study: optuna.Study, job: Job, symbols: list[str],
            settings: OptimizeSettings, the_plan: Plan, rate: float | None) -> int:
    evaluator = Evaluator(job.frames, the_plan, settings.objective, settings.balance, execution=job.execution)
    with quiet_optuna():
        rep = build_report(study, storage=safe_url(job.url), symbols=symbols, interval=args.interval,
                           settings=settings, risk=cfg.risk, strategy=cfg.strategy, plan=the_plan,
                           evaluator=evaluator, trials_per_minute=rate)
    print(render_report(rep))
    if args.json_out:
        write_json(rep, study, args.json_out)
        print(f"wrote {args.json_out}")
    if args.plot:
        eq, bh = best_curves(rep, evaluator)
        for p in write_pngs(render(study, rep, eq, bh), Path(args.plot)):
            print(f"wrote {p}")
    return 0
