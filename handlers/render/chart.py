"""PNG candle chart (matplotlib Agg, no pyplot state): EMAs, Bollinger, volume, trades, last price, SL/TP lines."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import talib

from handlers.render.readings import interval_label

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from tradebot.chat.views import ChartData

UP, DOWN = "#26a69a", "#ef5350"
WIN, LOSS = "#1b5e20", "#b71c1c"


def _indicators(close: np.ndarray, fast: int, slow: int, bb_period: int, bb_dev: float) -> dict[str, np.ndarray]:
    """Over every candle fetched (history before the shown window included), so lines start at the first one."""
    upper, _, lower = talib.BBANDS(close, timeperiod=bb_period, nbdevup=bb_dev, nbdevdn=bb_dev)
    return {"fast": talib.EMA(close, timeperiod=fast), "slow": talib.EMA(close, timeperiod=slow),
            "upper": upper, "lower": lower}


def render_chart(data: ChartData, fast: int = 9, slow: int = 21, bb_period: int = 20, bb_dev: float = 2.0) -> bytes:
    """The chart as PNG bytes (CPU-bound: call it in a thread)."""
    buf = io.BytesIO()
    build_figure(data, fast, slow, bb_period, bb_dev).savefig(buf, format="png")
    return buf.getvalue()


def _price_text(value: float) -> str:
    return f"{value:,.8f}".rstrip("0").rstrip(".")


def build_figure(data: ChartData, fast: int = 9, slow: int = 21, bb_period: int = 20, bb_dev: float = 2.0) -> Figure:
    """Price panel (candles, EMAs, Bollinger, trades, levels, last price) over a volume panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    full: Any = data.frame
    lines = _indicators(full["close"].to_numpy(dtype=float), fast, slow, bb_period, bb_dev)
    shown = min(data.shown or len(full), len(full))
    df = full.iloc[-shown:]
    lines = {k: v[-shown:] for k, v in lines.items()}
    o, h, lo, c, vol = (df[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close", "volume"))
    x = np.arange(len(c))
    fig = Figure(figsize=(11, 6.5), dpi=100)
    FigureCanvasAgg(fig)
    ax, axv = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1], "hspace": 0.05})
    up = c >= o
    for mask, color in ((up, UP), (~up, DOWN)):
        ax.vlines(x[mask], lo[mask], h[mask], color=color, linewidth=0.8)
        ax.bar(x[mask], np.abs(c - o)[mask] + 1e-9, bottom=np.minimum(o, c)[mask], color=color, width=0.7)
        axv.bar(x[mask], vol[mask], color=color, width=0.7, alpha=0.7)
    ax.plot(x, lines["fast"], color="#1e88e5", linewidth=1.1, label=f"EMA {fast}")
    ax.plot(x, lines["slow"], color="#fb8c00", linewidth=1.1, label=f"EMA {slow}")
    ax.plot(x, lines["upper"], color="#9e9e9e", linewidth=0.7, linestyle="--", label=f"Bollinger {bb_period}/{bb_dev:g}")
    ax.plot(x, lines["lower"], color="#9e9e9e", linewidth=0.7, linestyle="--")
    _trades(ax, df, data, len(x))
    _levels(ax, data)
    last = c[-1]
    ax.axhline(last, color="#37474f", linewidth=0.8, linestyle="-", alpha=0.6)
    ax.annotate(f"last {_price_text(last)}", xy=(1.0, last), xycoords=("axes fraction", "data"), xytext=(4, 0),
                textcoords="offset points", va="center", fontsize=8, color="white",
                bbox={"boxstyle": "round,pad=0.2", "fc": "#37474f", "ec": "none"}, annotation_clip=False)
    ax.set_title(f"{data.symbol} · {interval_label(data.interval)} · "
                 f"{df.index[0]:%Y-%m-%d %H:%M} → {df.index[-1]:%Y-%m-%d %H:%M} UTC")
    ax.set_ylabel("price (USDT)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _price_text(v)))
    axv.set_ylabel(f"volume ({data.symbol.removesuffix('USDT')})", fontsize=8)
    ticks = np.linspace(0, len(x) - 1, num=min(6, len(x))).astype(int)
    axv.set_xticks(ticks, [f"{df.index[i]:%m-%d %H:%M}" for i in ticks])
    ax.set_xlim(-1, len(x) + 1)
    for a in (ax, axv):
        a.grid(alpha=0.25)
    ax.legend(loc="upper left", fontsize=7, ncol=2, framealpha=0.85)
    fig.subplots_adjust(left=0.1, right=0.89, top=0.94, bottom=0.07)
    return fig


def _trades(ax: Axes, df: pd.DataFrame, data: ChartData, n: int) -> None:
    """Entries ▲ (long) ▼ (short); exits ✕ green for a profit, red for a loss; each kind once in the legend."""

    def pos(t: object) -> float | None:
        i = int(df.index.searchsorted(t, side="right")) - 1
        return float(i) if 0 <= i < n else None

    labelled: set[str] = set()

    def mark(xi: float, price: float, marker: str, color: str, label: str) -> None:
        ax.scatter([xi], [price], marker=marker, s=90, color=color, edgecolors="black", linewidths=0.6,
                   zorder=5, label=None if label in labelled else label)
        labelled.add(label)

    for t in data.trades:
        xi = pos(t.entry_time)
        if xi is not None:
            long = t.side == "Buy"
            mark(xi, float(t.entry_price), "^" if long else "v", UP if long else DOWN,
                 "entry long" if long else "entry short")
        if t.exit_time is not None and t.exit_price is not None and (xe := pos(t.exit_time)) is not None:
            won = (t.pnl or 0) > 0
            mark(xe, float(t.exit_price), "X", WIN if won else LOSS, "exit, profit" if won else "exit, loss")


def _levels(ax: Axes, data: ChartData) -> None:
    """The open position's entry/SL/TP (dotted) and a waiting card's SL/TP (dashed), labelled in the legend."""
    levels = []
    if data.position is not None:
        p = data.position
        levels += [(p.avg_price, "entry", "#455a64", ":"), (p.stop_loss, "SL", DOWN, ":"),
                   (p.take_profit, "TP", UP, ":")]
    for card in data.cards:
        levels += [(card.sl, "card SL", DOWN, "--"), (card.tp, "card TP", UP, "--")]
    for level, name, color, style in levels:
        if level:
            ax.axhline(float(level), color=color, linewidth=1.1, linestyle=style,
                       label=f"{name} {_price_text(float(level))}")
