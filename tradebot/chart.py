"""PNG candle chart (matplotlib Agg, no pyplot state): EMAs, Bollinger bands, trade entries/exits, SL/TP lines."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tradebot.service import ChartData


def _ema(values: np.ndarray, period: int) -> np.ndarray:
    out = np.full_like(values, np.nan)
    if len(values) < period:
        return out
    alpha = 2 / (period + 1)
    out[period - 1] = values[:period].mean()
    for i in range(period, len(values)):
        out[i] = alpha * values[i] + (1 - alpha) * out[i - 1]
    return out


def _bollinger(values: np.ndarray, period: int = 20, k: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    upper, lower = np.full_like(values, np.nan), np.full_like(values, np.nan)
    for i in range(period - 1, len(values)):
        window = values[i - period + 1:i + 1]
        mid, sd = window.mean(), window.std()
        upper[i], lower[i] = mid + k * sd, mid - k * sd
    return upper, lower


def render_chart(data: ChartData, fast: int = 9, slow: int = 21) -> bytes:
    """The chart as PNG bytes (CPU-bound: call it in a thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    df = data.frame  # type: ignore[attr-defined]
    o, h, lo, c = (df[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    x = np.arange(len(c))
    fig = Figure(figsize=(10, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    up = c >= o
    for mask, color in ((up, "#26a69a"), (~up, "#ef5350")):
        ax.vlines(x[mask], lo[mask], h[mask], color=color, linewidth=0.8)
        ax.bar(x[mask], np.abs(c - o)[mask] + 1e-9, bottom=np.minimum(o, c)[mask], color=color, width=0.7)
    ax.plot(x, _ema(c, fast), color="#1e88e5", linewidth=1, label=f"EMA {fast}")
    ax.plot(x, _ema(c, slow), color="#fb8c00", linewidth=1, label=f"EMA {slow}")
    upper, lower = _bollinger(c)
    ax.plot(x, upper, color="#9e9e9e", linewidth=0.7, linestyle="--", label="Bollinger 20/2")
    ax.plot(x, lower, color="#9e9e9e", linewidth=0.7, linestyle="--")
    def pos(t: object) -> float | None:
        i = int(df.index.searchsorted(t, side="right")) - 1
        return float(i) if 0 <= i < len(x) else None

    for t in data.trades:
        xi = pos(t.entry_time)
        if xi is not None:
            ax.scatter([xi], [float(t.entry_price)], marker="^" if t.side == "Buy" else "v", s=80,
                       color="#2e7d32" if t.side == "Buy" else "#c62828", zorder=5)
        if t.exit_time is not None and t.exit_price is not None and (xe := pos(t.exit_time)) is not None:
            ax.scatter([xe], [float(t.exit_price)], marker="x", s=80, color="black", zorder=5)
    if data.position is not None:
        p = data.position
        for level, name, color in ((p.stop_loss, "SL", "#c62828"), (p.take_profit, "TP", "#2e7d32"),
                                   (p.avg_price, "entry", "#455a64")):
            if level:
                ax.axhline(float(level), color=color, linewidth=1, linestyle=":", label=f"{name} {level}")
    ax.set_title(f"{data.symbol} · {data.interval}{'m' if data.interval.isdigit() else ''} · "
                 f"{df.index[0]:%Y-%m-%d %H:%M} → {df.index[-1]:%Y-%m-%d %H:%M} UTC")
    ticks = np.linspace(0, len(x) - 1, num=min(6, len(x))).astype(int)
    ax.set_xticks(ticks, [f"{df.index[i]:%m-%d %H:%M}" for i in ticks])
    ax.grid(alpha=0.25)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
