"""Equity curve (with buy-and-hold and the protection pauses shaded) + drawdown PNG with matplotlib's Agg canvas."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tradebot.backtest.models import BacktestResult
from tradebot.backtest.report import compute_metrics

MAX_POINTS = 4000  # longer curves are thinned to per-bucket min/max so spikes and drawdowns stay visible


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if y.size <= MAX_POINTS:
        return x, y
    edges = np.linspace(0, y.size, MAX_POINTS // 2 + 1).astype(int)
    lo = np.minimum.reduceat(y, edges[:-1])
    hi = np.maximum.reduceat(y, edges[:-1])
    xs = np.repeat(x[edges[:-1]], 2)
    ys = np.column_stack([lo, hi]).ravel()
    return xs, ys


def buy_and_hold(result: BacktestResult) -> np.ndarray | None:
    """The start balance put in the coin at the first bar's close and held (no fees), at each bar's close."""
    close = result.close
    if close is None or close.size == 0 or not close[0] > 0:
        return None
    held: np.ndarray = float(result.initial_balance) * close / close[0]  # numpy types this as Any
    return held


def plot_equity(result: BacktestResult, path: str | Path | BinaryIO | None = None) -> bytes:
    """Render equity (top) and drawdown % (bottom); write a PNG to ``path`` if given; return the PNG bytes."""
    fig = Figure(figsize=(10, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax_eq, ax_dd = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    eq = result.equity.to_numpy(np.float64)
    x = result.equity.index.to_numpy()
    if eq.size:
        peak = np.maximum.accumulate(np.r_[float(result.initial_balance), eq])[1:]
        dd = (eq - peak) / np.where(peak > 0, peak, np.nan) * 100
        ax_eq.plot(*_thin(x, eq), color="tab:blue", linewidth=0.8, label="strategy")
        hold = buy_and_hold(result)
        if hold is not None:
            ax_eq.plot(*_thin(x, hold), color="tab:orange", linewidth=0.8, alpha=0.8,
                       label="buy and hold (same start balance)")
        ax_eq.axhline(float(result.initial_balance), color="grey", linewidth=0.6, linestyle="--")
        end = result.equity.index[-1]
        for k, p in enumerate(result.pauses):
            stop = pd.Timestamp(p.end) if p.end else end
            for ax in (ax_eq, ax_dd):
                ax.axvspan(pd.Timestamp(p.start), stop, color="tab:grey", alpha=0.2,
                           linewidth=0, label="protections paused entries" if k == 0 and ax is ax_eq else None)
        ax_eq.legend(loc="upper left", fontsize=8)
        xd, yd = _thin(x, np.nan_to_num(dd))
        ax_dd.fill_between(xd, yd, 0, color="tab:red", alpha=0.5, linewidth=0)
    m = compute_metrics(result)
    ax_eq.set_title(f"{result.symbol} {result.interval_ms // 60_000}m backtest: net {m.net_pnl_pct:+.2f}%, "
                    f"{m.trades} trades, max DD {m.max_drawdown_pct:.2f}%")
    ax_eq.set_ylabel("equity (USDT)")
    ax_dd.set_ylabel("drawdown %")
    ax_eq.grid(alpha=0.3)
    ax_dd.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    if isinstance(path, str | Path):
        Path(path).write_bytes(data)
    elif path is not None:
        path.write(data)
    return data
