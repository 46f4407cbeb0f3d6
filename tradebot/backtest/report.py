"""Backtest figures (PnL, win rate, profit factor, drawdown, Sharpe/Sortino, exposure, fees, by side) and outputs.

JSON: money (PnL, fees, balances, prices, quantities) are exact decimal STRINGS; ratios and percentages are
JSON numbers (floats, rounded to 6 decimals); an undefined ratio (profit factor without losses, Sharpe of a
flat curve) is null. Sharpe and Sortino use daily (UTC) returns of the bar-close equity, annualised by √365
(crypto trades every day), risk-free rate 0; Sortino's downside deviation is √mean(min(r, 0)²).
Max drawdown is measured on the equity at each bar's close (mark to market), not intrabar.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tradebot.backtest.models import BacktestResult, Trade
from tradebot.market import DAY_MS, index_ms
from tradebot.money import ZERO
from tradebot.side import Side
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams

CENT = Decimal("0.01")
_AVG = Decimal("1e-10")
TRADE_FIELDS = ("side", "entry_time", "entry_price", "exit_time", "exit_price", "qty", "pnl", "fees", "reason",
                "sl", "tp", "atr", "stop_moves", "exit_sl", "funding")


@dataclass(frozen=True)
class SideStats:
    trades: int
    wins: int
    net_pnl: Decimal

    @property
    def win_rate(self) -> float | None:
        return 100.0 * self.wins / self.trades if self.trades else None


@dataclass(frozen=True)
class Metrics:
    """The report's figures; money exact (Decimal), ratios float (None when undefined)."""

    net_pnl: Decimal
    net_pnl_pct: float
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None
    avg_win: Decimal | None
    avg_loss: Decimal | None
    gross_profit: Decimal
    gross_loss: Decimal
    max_drawdown_pct: float
    max_drawdown: float
    sharpe: float | None
    sortino: float | None
    exposure_pct: float
    fees: Decimal
    by_side: dict[Side, SideStats]
    gross_pnl: Decimal = ZERO  # price PnL of the trades, before fees: gross − fees = the trades' net
    fee_share_pct: float | None = None  # fees as % of gross PnL (None when gross ≤ 0: fees then took it all)
    maker_fees: Decimal = ZERO  # fees of the fills made as maker (PostOnly entries, limit take-profits)
    taker_fees: Decimal = ZERO  # fees of the taker fills (market entries, stops)
    maker_fills: int = 0
    taker_fills: int = 0


def _daily_returns(result: BacktestResult) -> np.ndarray:
    eq = result.equity.to_numpy(np.float64)
    if eq.size == 0:
        return np.empty(0)
    day = index_ms(result.equity.index) // DAY_MS
    last = np.flatnonzero(np.r_[day[1:] != day[:-1], True])  # each UTC day's last bar
    closes = np.r_[float(result.initial_balance), eq[last]]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.diff(closes) / closes[:-1]
    finite: np.ndarray = r[np.isfinite(r)]  # numpy types these array expressions as Any
    return finite


def _ratio(mean: float, dev: float) -> float | None:
    return mean / dev * math.sqrt(365) if dev > 0 and math.isfinite(dev) else None


def compute_metrics(result: BacktestResult) -> Metrics:
    """All report figures from the trade list and the equity curve."""
    trades = result.trades
    pnl = [t.pnl for t in trades]
    wins = [p for p in pnl if p > 0]
    losses = [p for p in pnl if p < 0]
    gp, gl = sum(wins, ZERO), -sum(losses, ZERO)
    net = result.final_balance - result.initial_balance
    eq = result.equity.to_numpy(np.float64)
    peak = np.maximum.accumulate(np.r_[float(result.initial_balance), eq])[1:] if eq.size else eq
    dd = (eq - peak) / np.where(peak > 0, peak, np.nan) if eq.size else eq
    max_dd_pct = float(-np.nanmin(dd) * 100) if eq.size and np.isfinite(dd).any() else 0.0
    max_dd = float(np.max(peak - eq)) if eq.size else 0.0
    r = _daily_returns(result)
    mean = float(np.mean(r)) if r.size else 0.0
    sharpe = _ratio(mean, float(np.std(r, ddof=1))) if r.size > 1 else None
    sortino = _ratio(mean, math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))) if r.size > 1 else None
    by_side = {}
    for side in Side:
        st = [t for t in trades if t.side == side]
        by_side[side] = SideStats(len(st), sum(1 for t in st if t.pnl > 0), sum((t.pnl for t in st), ZERO))
    return Metrics(
        net_pnl=net,
        net_pnl_pct=float(net / result.initial_balance * 100) if result.initial_balance else 0.0,
        trades=len(trades), wins=len(wins), losses=len(losses),
        win_rate=100.0 * len(wins) / len(trades) if trades else None,
        profit_factor=float(gp / gl) if gl > 0 else None,
        avg_win=(gp / len(wins)).quantize(_AVG) if wins else None,
        avg_loss=(-gl / len(losses)).quantize(_AVG) if losses else None,
        gross_profit=gp, gross_loss=gl, max_drawdown_pct=max_dd_pct, max_drawdown=max_dd,
        sharpe=sharpe, sortino=sortino,
        exposure_pct=float(np.mean(result.in_position) * 100) if result.in_position.size else 0.0,
        fees=sum((t.fees for t in trades), ZERO), by_side=by_side,
        **_gross_and_fees(trades),
    )


def _gross_and_fees(trades: list[Trade]) -> dict[str, Any]:
    """Gross (price) PnL and the share of it the fees took; trade.pnl = gross − fees."""
    gross = sum((t.pnl + t.fees for t in trades), ZERO)
    fees = sum((t.fees for t in trades), ZERO)
    entry_maker = sum((t.open_fee for t in trades if t.entry_maker), ZERO)
    exit_maker = sum((t.fees - t.open_fee for t in trades if t.exit_maker), ZERO)
    fills = sum(t.entry_maker + t.exit_maker for t in trades)
    return {"gross_pnl": gross, "fee_share_pct": float(fees / gross * 100) if gross > 0 else None,
            "maker_fees": entry_maker + exit_maker, "taker_fees": fees - entry_maker - exit_maker,
            "maker_fills": fills, "taker_fills": 2 * len(trades) - fills}


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 6)


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def to_dict(result: BacktestResult, metrics: Metrics | None = None) -> dict[str, Any]:
    """The JSON report (see the module docstring for the number conventions)."""
    m = metrics or compute_metrics(result)
    return {
        "symbol": result.symbol, "interval_minutes": result.interval_ms // 60_000,
        "start": result.start.isoformat(), "end": result.end.isoformat(), "bars": result.bars,
        "initial_balance": str(result.initial_balance), "final_balance": str(result.final_balance),
        "net_pnl": str(m.net_pnl), "net_pnl_pct": _num(m.net_pnl_pct), "trades_count": m.trades,
        "wins": m.wins, "losses": m.losses, "win_rate": _num(m.win_rate), "profit_factor": _num(m.profit_factor),
        "avg_win": _s(m.avg_win), "avg_loss": _s(m.avg_loss), "gross_profit": str(m.gross_profit),
        "gross_loss": str(m.gross_loss), "max_drawdown_pct": _num(m.max_drawdown_pct),
        "max_drawdown": _num(m.max_drawdown), "sharpe": _num(m.sharpe), "sortino": _num(m.sortino),
        "exposure_pct": _num(m.exposure_pct), "fees": str(m.fees), "gross_pnl": str(m.gross_pnl),
        "trades_net_pnl": str(m.gross_pnl - m.fees), "fee_share_of_gross_pct": _num(m.fee_share_pct),
        "fees_by_fill": {"maker": str(m.maker_fees), "taker": str(m.taker_fees), "maker_fills": m.maker_fills,
                         "taker_fills": m.taker_fills},
        "execution": result.execution.model_dump(), "maker_unfilled": result.maker_unfilled,
        "market_entries": result.market,
        "signals": result.signals,
        "by_side": {k: {"trades": v.trades, "win_rate": _num(v.win_rate), "net_pnl": str(v.net_pnl)}
                    for k, v in m.by_side.items()},
        "pauses": [{"start": p.start.isoformat(), "end": p.end.isoformat() if p.end else None,
                    "reasons": list(p.reasons), "signals_skipped": p.signals_skipped} for p in result.pauses],
        "refusals": dict(result.refusals), "notes": list(result.notes),
        "settings": {"interval_minutes": result.interval_ms // 60_000, "risk_pct": str(result.risk.risk_pct),
                     "taker_fee_rate": str(result.risk.taker_fee_rate), "threshold": result.strategy.threshold,
                     "changed": changed_settings(result.risk, result.strategy), "source": result.settings_source},
        "funding": {"included": result.funding_included, "paid": str(result.funding_paid),
                    "settlements": result.funding_settlements},
        "trades": [t.as_dict() for t in result.trades],
    }


def write_json(result: BacktestResult, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(result), indent=1) + "\n", encoding="utf-8")


def write_trades_csv(trades: list[Trade], path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=TRADE_FIELDS, extrasaction="ignore")
        w.writeheader()
        for t in trades:
            w.writerow(t.as_dict())


def _money(d: Decimal | None) -> str:
    return "-" if d is None else f"{d.quantize(CENT):,}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}%"


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _show(v: object) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_show(x)}" for k, x in v.items()) + "}"
    return str(v)


def changed_settings(risk: RiskParams, strategy: StrategyParams) -> list[str]:
    """Every risk/strategy parameter that differs from its default, as ``table.key=value (default x)``;
    indicators switched on/off are grouped."""
    out: list[str] = []
    switched: dict[bool, list[str]] = {True: [], False: []}
    for name, cur, default in (("risk", risk, RiskParams()), ("strategy", strategy, StrategyParams())):
        now, base = _flat(cur.model_dump()), _flat(default.model_dump())
        for key in sorted(now):
            if key in base and now[key] == base[key]:
                continue
            if name == "strategy" and key.endswith(".enabled") and isinstance(now[key], bool):
                switched[now[key]].append(key.rsplit(".", 1)[0])
                continue
            out.append(f"{name}.{key}={_show(now[key])} (default {_show(base.get(key, '-'))})")
    if switched[False]:
        out.append("indicators off: " + ", ".join(switched[False]))
    if switched[True]:
        out.append("indicators on: " + ", ".join(switched[True]))
    return out


def settings_lines(result: BacktestResult) -> list[str]:
    """What the run used: interval, risk and fees, threshold, stops, the changed parameters, funding."""
    r, st = result.risk, result.strategy
    fee = r.taker_fee_rate * 100
    lines = [
        f"Settings: {result.interval_ms // 60_000}m candles, risk {r.risk_pct}% of balance per trade after fees "
        f"(taker {fee.normalize():f}% per side and a {r.slippage_pct.normalize():f}% stop slippage allowance "
        f"counted), threshold {st.threshold}, "
        f"SL {r.sl_atr} ATR, TP {r.tp_atr} ATR, trailing by {r.trailing_mode}, leverage {r.leverage}x"
        + (f"; {result.settings_source}" if result.settings_source else ""),
    ]
    lines.append(execution_line(result))
    changed = changed_settings(r, st)
    lines.append("Changed from defaults: " + ("; ".join(changed) if changed else "none"))
    if result.funding_included:
        paid = result.funding_paid
        word = "paid" if paid >= 0 else "received"
        lines.append(f"Funding: {_money(abs(paid))} USDT {word} at {result.funding_settlements} settlement(s) "
                     "(inside each trade's PnL)")
    else:
        lines.append("Funding: not included (no funding-rate history; `bot.py download` fetches it)")
    return lines


def market_figures(market: BacktestResult) -> dict[str, str]:
    """A market-entry run's figures, kept beside a maker-first run's report."""
    m = compute_metrics(market)
    return {"trades": str(m.trades), "fees": str(m.fees), "gross_pnl": str(m.gross_pnl),
            "net_pnl": str(m.net_pnl), "fee_share_of_gross_pct": "-" if m.fee_share_pct is None
            else f"{m.fee_share_pct:.1f}"}


def execution_line(result: BacktestResult) -> str:
    """How entries were sent and filled, with the limits of the model."""
    ex = result.execution
    if not ex.maker:
        return "Entries: market orders (taker), take-profit a market fill (taker)"
    after = "then a market entry" if ex.fallback == "market" else "then no trade"
    return (f"Entries: maker first: a limit at the next bar's open, filled only when a later bar within "
            f"{ex.window_bars(result.interval_ms)} bar(s) ({ex.reprice_window_s:g} s rounded up) trades through it by a "
            f"tick, {after} ({result.maker_unfilled} not filled); take-profit a maker limit, filled a tick beyond "
            "it; stops taker. Queue position is not modelled: a touch fills nothing")


def pause_lines(result: BacktestResult) -> list[str]:
    """Every protection pause, then how the backtest ends a loss streak compared with the live bot."""
    if not result.pauses:
        return []
    skipped = sum(p.signals_skipped for p in result.pauses)
    lines = [f"Protections paused entries {len(result.pauses)} time(s), {skipped} signal(s) skipped:"]
    for p in result.pauses:
        end = f"{p.end:%Y-%m-%d %H:%M}" if p.end else "end of data"
        lines.append(f"  {p.start:%Y-%m-%d %H:%M} → {end}: {'; '.join(p.reasons)} ({p.signals_skipped} skipped)")
    if any("in a row" in reason or "consecutive" in reason for p in result.pauses for reason in p.reasons):
        lines.append("Loss streaks: live, the pause lasts until you /resume (or the losses age out of the 7-day "
                     "window); the backtest has no operator, so it resumes when the streak's oldest loss leaves "
                     "the 7-day window.")
    return lines


def render_summary(result: BacktestResult, metrics: Metrics | None = None) -> str:
    """Plain-text table of the figures, the settings used and every pause."""
    m = metrics or compute_metrics(result)
    rows = [
        ("Symbol", f"{result.symbol} {result.interval_ms // 60_000}m"),
        ("Period", f"{result.start:%Y-%m-%d %H:%M} → {result.end:%Y-%m-%d %H:%M} UTC"),
        ("Bars", f"{result.bars:,}"),
        ("Start balance", f"{_money(result.initial_balance)} USDT"),
        ("End balance", f"{_money(result.final_balance)} USDT"),
        ("Net PnL", f"{_money(m.net_pnl)} USDT ({m.net_pnl_pct:+.2f}%)"),
        ("Trades", f"{m.trades} ({m.wins} won, {m.losses} lost)"),
        ("Win rate", _pct(m.win_rate)),
        ("Profit factor", "∞ (no losses)" if m.profit_factor is None and m.wins else _f(m.profit_factor)),
        ("Average win", f"{_money(m.avg_win)} USDT"),
        ("Average loss", f"{_money(m.avg_loss)} USDT"),
        ("Max drawdown", f"{m.max_drawdown_pct:.2f}% ({m.max_drawdown:,.2f} USDT)"),
        ("Sharpe (daily)", _f(m.sharpe)),
        ("Sortino (daily)", _f(m.sortino)),
        ("Exposure", _pct(m.exposure_pct)),
        ("Fees paid", f"{_money(m.fees)} USDT"),
        ("Gross/fees/net", f"{_money(m.gross_pnl)} − {_money(m.fees)} = {_money(m.gross_pnl - m.fees)} USDT"),
        ("Fee share", f"fees took {m.fee_share_pct:.1f}% of gross PnL" if m.fee_share_pct is not None
         else f"fees took all of it: gross PnL {_money(m.gross_pnl)} USDT is not positive"),
        ("Fees by fill", f"maker {_money(m.maker_fees)} USDT ({m.maker_fills} fills), taker "
                         f"{_money(m.taker_fees)} USDT ({m.taker_fills} fills)"),
    ]
    if result.market is not None:
        mk = result.market
        rows.append(("Market entries", f"the same signals with market entries: {mk['trades']} trades, fees "
                                       f"{_money(Decimal(mk['fees']))} USDT, gross {_money(Decimal(mk['gross_pnl']))}, "
                                       f"net {_money(Decimal(mk['net_pnl']))} USDT"))
    for side, label in ((Side.BUY, "Longs"), (Side.SELL, "Shorts")):
        st = m.by_side[side]
        rows.append((label, f"{st.trades} trades, win {_pct(st.win_rate)}, net {_money(st.net_pnl)} USDT"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines.extend(settings_lines(result))
    lines.extend(pause_lines(result))
    for reason, count in result.refusals.items():
        lines.append(f"Not sized ×{count}: {reason}")
    lines.extend(result.notes)
    return "\n".join(lines)
