"""Optimize PNGs (Agg, thread-safe): out-of-sample equity vs buy-and-hold, parameter importance, score over trials."""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from optuna.trial import TrialState

from tradebot.backtest.plot import _thin
from tradebot.optimize.report import UNITS, OptimizeReport
from tradebot.optimize.windows import Span

MIN_TRIALS_FOR_IMPORTANCE = 4


def draw_equity(ax: Axes, eq: pd.Series, bh: pd.Series, rep: OptimizeReport) -> None:
    x = eq.index.to_numpy()
    ax.plot(*_thin(x, eq.to_numpy(np.float64)), color="tab:blue", linewidth=0.9,
            label=f"best trial {rep.best.number if rep.best else '-'}")
    ax.plot(*_thin(bh.index.to_numpy(), bh.to_numpy(np.float64)), color="tab:grey", linewidth=0.8,
            label="buy and hold")
    ax.axhline(float(rep.settings.balance), color="grey", linewidth=0.5, linestyle="--")
    for w in rep.plan.windows[1:]:
        ax.axvline(pd.Timestamp(w.test.start_ms, unit="ms", tz="UTC"), color="tab:green", linewidth=0.5, alpha=0.5)
    if rep.plan.holdout is not None:
        h = rep.plan.holdout
        ax.axvspan(pd.Timestamp(h.start_ms, unit="ms", tz="UTC"), pd.Timestamp(h.end_ms, unit="ms", tz="UTC"),
                   color="tab:orange", alpha=0.12, label="hold-out (untouched)")
    ax.set_title(f"Out-of-sample equity ({', '.join(rep.symbols)}, test parts chained) vs buy and hold")
    ax.set_ylabel("USDT")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)


def draw_history(ax: Axes, study: optuna.Study, rep: OptimizeReport) -> None:
    """Scores over trials with a zero line (above it a trial made money by the objective); pruned trials have no
    score, so they get their own strip under the scores, never a place on the score axis."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    done = [(t.number, t.value) for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    pruned = [t.number for t in trials if t.state == TrialState.PRUNED]
    ax.axhline(0.0, color="black", linewidth=0.8, label="0 (no gain)")
    if done:
        n, v = np.array(done, dtype=float).T
        order = np.argsort(n)
        ax.scatter(n, v, s=10, color="tab:blue", label="out-of-sample score")
        ax.plot(n[order], np.maximum.accumulate(v[order]), color="tab:red", linewidth=1, label="best so far",
                drawstyle="steps-post")
        ins = [t.user_attrs.get("is_score") for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
        ax.scatter(n, np.array(ins, dtype=float), s=6, color="tab:grey", alpha=0.6, label="in-sample score")
    ax.set_title(f"Score over trials ({UNITS[rep.settings.objective]})")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    strip = ax.inset_axes((0.0, -0.22, 1.0, 0.1), sharex=ax)  # below the score panel, its own axis
    strip.scatter(pruned, [0.0] * len(pruned), marker="|", s=60, color="tab:orange")
    strip.set_yticks([0.0], [f"pruned ({len(pruned)})"], fontsize=7)
    strip.set_ylim(-1, 1)
    strip.set_xlabel("trial")
    strip.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelbottom=False)


def importances(study: optuna.Study) -> dict[str, float] | str:
    """Optuna's parameter importances, or why there are none yet."""
    n = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if n < MIN_TRIALS_FOR_IMPORTANCE:
        return f"importance needs {MIN_TRIALS_FOR_IMPORTANCE}+ complete trials (have {n})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:
        return f"importance unavailable: {exc}"


def draw_importance(ax: Axes, imp: dict[str, float] | str) -> None:
    ax.set_title("Parameter importance (fANOVA)")
    if isinstance(imp, str) or not imp:
        ax.text(0.5, 0.5, imp if isinstance(imp, str) and imp else "no parameters", ha="center", va="center", wrap=True, transform=ax.transAxes)
        ax.set_axis_off()
        return
    names = list(imp)[::-1]
    ax.barh(names, [imp[k] for k in names], color="tab:purple")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("share of score variance")
    ax.grid(alpha=0.3, axis="x")


def _png(fig: Figure) -> bytes:
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def render(study: optuna.Study, rep: OptimizeReport, eq: pd.Series | None, bh: pd.Series | None) -> dict[str, bytes]:
    """PNG bytes: "summary" (all three panels), "equity", "importance", "history"."""
    imp = importances(study)
    out = {}
    fig = Figure(figsize=(12, 8), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 2])
    ax = fig.add_subplot(grid[0, :])
    if eq is not None and bh is not None:
        draw_equity(ax, eq, bh, rep)
    else:
        ax.text(0.5, 0.5, "no complete trial yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    draw_history(fig.add_subplot(grid[1, 0]), study, rep)
    draw_importance(fig.add_subplot(grid[1, 1]), imp)
    out["summary"] = _png(fig)
    for name, size in (("equity", (10, 5)), ("importance", (7, 4.5)), ("history", (8, 4.5))):
        if name == "equity" and (eq is None or bh is None):
            continue
        f = Figure(figsize=size, dpi=100)
        FigureCanvasAgg(f)
        a = f.add_subplot()
        if name == "equity":
            assert eq is not None and bh is not None
            draw_equity(a, eq, bh, rep)
        elif name == "importance":
            draw_importance(a, imp)
        else:
            draw_history(a, study, rep)
        out[name] = _png(f)
    return out


def write_pngs(pngs: dict[str, bytes], path: str | Path) -> list[Path]:
    """``path`` gets the summary; ``<stem>-equity.png`` etc. the single panels. Returns the files written."""
    base = Path(path)
    written = [base]
    base.write_bytes(pngs["summary"])
    for name, data in pngs.items():
        if name != "summary":
            p = base.with_name(f"{base.stem}-{name}{base.suffix or '.png'}")
            p.write_bytes(data)
            written.append(p)
    return written


def best_curves(rep: OptimizeReport, evaluator: object) -> tuple[pd.Series, pd.Series] | tuple[None, None]:
    """The best trial's chained out-of-sample equity (then the hold-out, if any) and buy-and-hold over it."""
    from tradebot.optimize.evaluate import Evaluator
    from tradebot.settings.overrides import apply_changes

    if rep.best is None or not isinstance(evaluator, Evaluator):
        return None, None
    risk, strategy = apply_changes(rep.risk, rep.strategy, rep.best.params)
    oos = rep.plan.oos
    end = rep.plan.holdout.end_ms if rep.plan.holdout else oos.end_ms
    eq, bh = evaluator.equity(Span(oos.start_ms, end), risk, strategy, chained=True)
    if rep.plan.holdout is not None:  # the hold-out continues from where the walk-forward ended
        h_eq, h_bh = evaluator.equity(rep.plan.holdout, risk, strategy, chained=False)
        bal = float(rep.settings.balance)
        eq = pd.concat([eq, h_eq / bal * float(eq.iloc[-1])])
        bh = pd.concat([bh, h_bh / bal * float(bh.iloc[-1])])
    return eq, bh
