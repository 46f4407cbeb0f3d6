"""The optimize report: best trials with in-sample beside out-of-sample, overfit warnings, hold-out, JSON, TOML."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from tradebot.optimize.evaluate import Evaluator
from tradebot.optimize.settings import OptimizeSettings
from tradebot.optimize.windows import Plan
from tradebot.settings.overrides import apply_changes, as_plain, current_value, toml_snippet
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams

UNITS = {"net_pnl": "% return per 30 days", "sharpe": "annualised Sharpe", "calmar": "annual % / max drawdown %"}


@dataclass
class Row:
    number: int
    oos: float
    is_: float
    attrs: dict[str, Any]
    params: dict[str, Any]
    holdout: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class OptimizeReport:
    study: str
    storage: str
    symbols: list[str]
    interval: str
    settings: OptimizeSettings
    risk: RiskParams
    strategy: StrategyParams
    plan: Plan
    counts: dict[str, int]
    rows: list[Row]
    refit_oos: float | None
    trials_per_minute: float | None
    changes: dict[str, tuple[object, object]]  # path -> (config value, best value), only what differs
    toml: str
    notes: list[str] = field(default_factory=list)
    losing: list[str] = field(default_factory=list)  # why the result lost money; empty: the best trial made money

    @property
    def headline(self) -> str | None:
        """The plain warning the CLI report, the JSON, the chat and the TOML snippet open with (None: no loss)."""
        if not self.losing:
            return None
        return "⚠ LOSING: " + "; ".join(self.losing) + ". Do not trade these settings."

    @property
    def best(self) -> Row | None:
        return self.rows[0] if self.rows else None


def counts_of(study: optuna.Study) -> dict[str, int]:
    out = {s.name.lower(): 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name.lower()] += 1
    return out


def refit_score(trials: list[FrozenTrial], windows: int) -> float | None:
    """Walk-forward re-optimisation: per window, the trial best on its train part, scored on its test part."""
    usable = [t for t in trials if len(t.user_attrs.get("is_windows", [])) == windows]
    if not usable:
        return None
    picks = [max(usable, key=lambda t: t.user_attrs["is_windows"][w]).user_attrs["oos_windows"][w]
             for w in range(windows)]
    return float(np.mean(picks))


def divergence(row: Row, ratio: float) -> list[str]:
    out = []
    if row.is_ <= 0:
        out.append(f"trial {row.number}: in-sample {row.is_:.2f} ≤ 0: it lost even on the data it was fitted to")
    if row.is_ > 0 and row.oos < ratio * row.is_:
        out.append(f"trial {row.number}: out-of-sample {row.oos:.2f} is far below in-sample {row.is_:.2f}: "
                   "likely overfit, do not trust its parameters")
    if row.holdout is not None and row.oos > 0 and row.holdout["score"] < ratio * row.oos:
        out.append(f"trial {row.number}: hold-out {row.holdout['score']:.2f} is far below out-of-sample "
                   f"{row.oos:.2f}: the walk-forward pick did not survive untouched data")
    return out


def build_report(study: optuna.Study, *, storage: str, symbols: list[str], interval: str,
                 settings: OptimizeSettings, risk: RiskParams, strategy: StrategyParams, plan: Plan,
                 evaluator: Evaluator | None, trials_per_minute: float | None = None) -> OptimizeReport:
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    done.sort(key=lambda t: t.value or 0.0, reverse=True)  # value is never None here (filtered above)
    rows = [Row(t.number, float(t.value or 0.0), float(t.user_attrs.get("is_score", 0.0)), dict(t.user_attrs),
                dict(t.params)) for t in done[:settings.top]]
    for i, row in enumerate(rows):
        if evaluator is not None and plan.holdout is not None and i < settings.holdout_top:
            r, s = apply_changes(risk, strategy, row.params)
            row.holdout = evaluator.holdout(r, s)
        row.warnings = divergence(row, settings.overfit_ratio)
    changes: dict[str, tuple[object, object]] = {}
    toml = ""
    if rows:
        best_risk, best_strategy = apply_changes(risk, strategy, rows[0].params)
        for path in rows[0].params:
            old, new = current_value(path, risk, strategy), current_value(path, best_risk, best_strategy)
            if old != new:
                changes[path] = (old, new)
        toml = toml_snippet({p: new for p, (_, new) in changes.items()})
    losing = losses(done, rows)
    if losing and toml:
        toml = "".join(f"# {line}\n" for line in ("⚠ LOSING: " + "; ".join(losing) + ".",
                                                  "Do not trade these settings.")) + toml
    notes = []
    if len(symbols) > 1:
        notes.append("each symbol is backtested on its own account; max_open_positions across symbols is not "
                     "modelled")
    return OptimizeReport(study.study_name, storage, symbols, interval, settings, risk, strategy, plan,
                          counts_of(study), rows, refit_score(done, len(plan.windows)), trials_per_minute,
                          changes, toml, notes, losing)


def _pnl(attrs: dict[str, Any], part: str) -> float:
    return float((attrs.get(part) or {}).get("pnl", 0.0))


def losses(done: list[FrozenTrial], rows: list[Row]) -> list[str]:
    """Why the result does not make money, in plain words: no trial made money out-of-sample, the best trial's
    out-of-sample or hold-out PnL is a loss, or it lost in-sample too. Empty: the best trial made money."""
    if not rows:
        return []
    out = []
    best = rows[0]
    if not any(_pnl(t.user_attrs, "oos") > 0 for t in done):
        out.append(f"no trial made money out-of-sample (best trial {best.number}: "
                   f"{_pnl(best.attrs, 'oos'):+.2f} USDT)")
    elif _pnl(best.attrs, "oos") <= 0:
        out.append(f"best trial {best.number} lost {_pnl(best.attrs, 'oos'):+.2f} USDT out-of-sample")
    if best.holdout is not None and float(best.holdout.get("pnl", 0.0)) < 0:
        out.append(f"its hold-out loses {float(best.holdout['pnl']):+.2f} USDT")
    if best.is_ <= 0:
        out.append(f"it lost in-sample too (score {best.is_:.2f})")
    return out


def _fmt(v: object) -> str:
    v = as_plain(v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def settings_lines(rep: OptimizeReport) -> list[str]:
    """What the run used: interval, risk after fees, threshold, protections and the searched parameters."""
    r, s, o = rep.risk, rep.strategy, rep.settings
    searched = set(o.params)
    thr = "searched" if "strategy.threshold" in searched else "fixed"
    risk_pct = "searched" if "risk.risk_pct" in searched else "fixed"
    return [
        f"Settings: {rep.interval}m candles · risk {r.risk_pct}% of balance per trade, fees included "
        f"({risk_pct}) · threshold {s.threshold:g} ({thr}) · leverage {r.leverage} · taker fee "
        f"{(r.taker_fee_rate * 100).normalize()}% · start balance {o.balance} USDT",
        f"Protections as live: daily loss {r.daily_loss_limit_pct}%, cooldown {r.cooldown_minutes} min, pause "
        f"after {r.max_consecutive_losses} losses in a row",
        f"Objective: {o.objective} ({UNITS[o.objective]}), at least {o.min_trades} out-of-sample trades",
        "Searched: " + ", ".join(f"{p} {spec.describe()}" for p, spec in o.params.items()),
    ]


def render_report(rep: OptimizeReport) -> str:
    p = rep.plan
    w0 = p.windows[0]
    lines = [*([rep.headline] if rep.headline else []),
             f"Optimize {', '.join(rep.symbols)} · study {rep.study} ({rep.storage})", *settings_lines(rep),
             f"Walk-forward: {len(p.windows)} window(s), train {w0.train.days:.1f} d then test {w0.test.days:.1f} d; "
             f"out-of-sample {p.oos.label()}",
             (f"Hold-out (untouched, best {rep.settings.holdout_top} only): {p.holdout.label()} ({p.holdout.days:.1f} d)"
              if p.holdout else "Hold-out: none (optimize.holdout_pct = 0)")]
    c = rep.counts
    rate = f"; {rep.trials_per_minute:.1f} trials/min this run" if rep.trials_per_minute else ""
    lines.append(f"Trials: {c['complete']} complete, {c['pruned']} pruned (too few trades or invalid), "
                 f"{c['fail']} failed, {c['running'] + c['waiting']} running/queued{rate}")
    if not rep.rows:
        lines.append(f"No trial made {rep.settings.min_trades} out-of-sample trades: lower optimize.min_trades, "
                     "widen the ranges or use more days.")
        return "\n".join(lines + rep.notes)
    lines += ["", "Best trials (scores: mean over windows and symbols; IS = train parts, OOS = test parts):",
              f"{'#':>5} {'OOS':>7} {'IS':>7} {'OOS PnL':>10} {'trades':>6} {'fees':>9} {'hold-out':>9}"]
    for row in rep.rows:
        oos = row.attrs.get("oos", {})
        hold = f"{row.holdout['score']:9.2f}" if row.holdout else f"{'-':>9}"
        flag = " ⚠" if row.warnings else ""
        lines.append(f"{row.number:>5} {row.oos:7.2f} {row.is_:7.2f} {oos.get('pnl', 0):+10.2f} "
                     f"{oos.get('trades', 0):>6} {oos.get('fees', 0):9.2f} {hold}{flag}")
    if rep.refit_oos is not None:
        lines.append(f"Re-fitted per window (best train-part trial, scored on the next test part): "
                     f"OOS {rep.refit_oos:.2f}")
    for row in rep.rows:
        lines += [f"⚠ {w}" for w in row.warnings]
    best = rep.rows[0]
    pairs = zip(best.attrs.get("is_windows", []), best.attrs.get("oos_windows", []), strict=False)
    lines.append(f"Trial {best.number} per window, IS → OOS: "
                 + " · ".join(f"{i + 1}: {a:.2f} → {b:.2f}" for i, (a, b) in enumerate(pairs)))
    if best.holdout:
        h = best.holdout
        lines.append(f"Hold-out of trial {best.number}: score {h['score']:.2f}, PnL {h['pnl']:+.2f} USDT, "
                     f"{h['trades']} trades, fees {h['fees']:.2f}, max drawdown {h['max_dd_pct']:.1f}%")
    losing = " (LOSING: do not trade them)" if rep.losing else ""
    lines += ["", f"Best trial {best.number}: changes from your config{losing}:"]
    lines += [f"  {path}: {_fmt(old)} → {_fmt(new)}" for path, (old, new) in rep.changes.items()] or ["  (none)"]
    if rep.toml:
        lines += ["", "Paste into config.toml only if you accept the warning above:" if rep.losing
                  else "Paste into config.toml:", rep.toml.rstrip()]
    return "\n".join(lines + ([""] + rep.notes if rep.notes else []))


def report_dict(rep: OptimizeReport, study: optuna.Study) -> dict[str, Any]:
    trials = [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
               "attrs": t.user_attrs, "retry_of": t.system_attrs.get("failed_trial"),
               "start": t.datetime_start.isoformat() if t.datetime_start else None,
               "complete": t.datetime_complete.isoformat() if t.datetime_complete else None}
              for t in study.get_trials(deepcopy=False)]
    return {
        "warning": rep.headline, "losing": rep.losing,
        "study": rep.study, "storage": rep.storage, "symbols": rep.symbols, "interval": rep.interval,
        "settings": rep.settings.model_dump(mode="json"), "risk": rep.risk.model_dump(mode="json"),
        "strategy_threshold": rep.strategy.threshold, "settings_text": settings_lines(rep),
        "windows": [{"train": w.train.as_dict(), "test": w.test.as_dict()} for w in rep.plan.windows],
        "holdout": rep.plan.holdout.as_dict() if rep.plan.holdout else None, "counts": rep.counts,
        "trials_per_minute": rep.trials_per_minute, "refit_oos": rep.refit_oos,
        "best": [{"number": r.number, "oos_score": r.oos, "is_score": r.is_, "params": r.params, "holdout": r.holdout,
                  "warnings": r.warnings, **{k: r.attrs.get(k) for k in ("is", "oos", "is_windows", "oos_windows")}}
                 for r in rep.rows],
        "changes": {p: [as_plain(a), as_plain(b)] for p, (a, b) in rep.changes.items()},
        "toml": rep.toml, "notes": rep.notes, "trials": trials,
    }


def write_json(rep: OptimizeReport, study: optuna.Study, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report_dict(rep, study), indent=2, default=str), encoding="utf-8")
