"""Equity curve + drawdown PNG with matplotlib's Agg canvas (no pyplot state, safe from a worker thread)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import numpy as np
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
        ax_eq.plot(*_thin(x, eq), color="tab:blue", linewidth=0.8)
        ax_eq.axhline(float(result.initial_balance), color="grey", linewidth=0.6, linestyle="--")
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
