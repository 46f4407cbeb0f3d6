"""The chat tables of the period reports (/pnl daily|weekly|monthly [N], /performance): Telegram HTML over the
buckets tradebot/chat/reports.py sums."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.render.formatting import esc
from tradebot.chat.reports import Bucket
from tradebot.text import pct, usdt


def _rate(b: Bucket) -> str:
    return pct(b.win_rate) if b.win_rate is not None else "—"


def render_periods(unit: str, rows: Sequence[Bucket]) -> str:
    head = f"{'period':<10} {'trades':>6} {'net':>10} {'fees':>8} {'win%':>6} {'cumul.':>10}"
    lines = [head] + [f"{b.label:<10} {b.trades:>6} {usdt(b.net, True):>10} {usdt(b.fees):>8} "
                      f"{_rate(b).removesuffix('%'):>6} {usdt(b.cumulative, True):>10}" for b in rows]
    total = sum((b.trades for b in rows), 0)
    return (f"<b>PnL {esc(unit)}</b>, last {len(rows)} (UTC, by exit time; USDT, net after fees and funding)\n"
            f"<pre>{esc(chr(10).join(lines))}</pre>\n{total} trade(s) in these periods.")


def render_performance(by_symbol: Sequence[Bucket], by_origin: Sequence[Bucket]) -> str:
    if not by_symbol:
        return "<b>Performance</b>: no closed trades yet."
    def table(title: str, rows: Sequence[Bucket]) -> str:
        lines = [f"{title:<12} {'trades':>6} {'net':>10} {'fees':>8} {'win%':>6}"]
        lines += [f"{b.label:<12} {b.trades:>6} {usdt(b.net, True):>10} {usdt(b.fees):>8} "
                  f"{_rate(b).removesuffix('%'):>6}" for b in rows]
        return f"<pre>{esc(chr(10).join(lines))}</pre>"
    return ("<b>Performance</b>, all closed trades (USDT, net after fees and funding; times UTC)\n"
            f"{table('symbol', by_symbol)}\n{table('origin', by_origin)}\n"
            "origin: signal = the strategy's, manual = /long or /short. /performance chart: the equity curve.")
