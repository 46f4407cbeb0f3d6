"""PNG of the realised equity curve for /performance chart (matplotlib Agg, no pyplot state, chart.py's style)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from handlers.render.chart import DOWN, UP


def render_equity(points: Sequence[tuple[datetime, Decimal]], title: str) -> bytes:
    """Cumulative net PnL after each closed trade (a point per exit; green: the trade won), the area green above
    0 and red below (CPU-bound: call it in a worker)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    x = list(range(len(points) + 1))
    y = [0.0] + [float(v) for _, v in points]
    ax.plot(x, y, color="#37474f", linewidth=1.4, label="realised PnL, cumulative")
    ax.fill_between(x, y, 0, where=[v >= 0 for v in y], color=UP, alpha=0.25, interpolate=True)
    ax.fill_between(x, y, 0, where=[v <= 0 for v in y], color=DOWN, alpha=0.25, interpolate=True)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.axhline(0, color="#9e9e9e", linewidth=0.8)
    ax.scatter(x[1:], y[1:], s=18, color=[UP if b >= a else DOWN for a, b in zip(y, y[1:], strict=False)],
               edgecolors="black", linewidths=0.4, zorder=5)
    span = f"{points[0][0]:%Y-%m-%d %H:%M} → {points[-1][0]:%Y-%m-%d %H:%M} UTC" if points else "no trades"
    ax.set_title(f"{title} · {span}")
    ax.set_xlabel("closed trades (in exit order)")
    ax.set_ylabel("net PnL after fees and funding (USDT)")
    ax.set_xlim(-0.5, len(points) + 0.5)
    ax.grid(alpha=0.25)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.85)
    fig.subplots_adjust(left=0.09, right=0.97, top=0.92, bottom=0.11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
