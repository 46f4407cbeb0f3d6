"""Fee benchmark: what fees take of the PnL with market entries and with maker-first entries (issue 21).

On the bundled BTCUSDT 5m candles and a second symbol (ETHUSDT, ``data/sample/``), the default settings (or
``--config FILE``) are backtested twice over the same candles and signals: ``[execution] mode = "market"`` and
``"maker_first"`` (tradebot/backtest/maker.py: a maker entry fills only when a later bar trades through it by a
tick, within its window). For each it prints the trades, fees (maker/taker), gross and net PnL, fees as a share
of the gross PnL and of the net PnL, and the largest share of the risk the fees took on a trade's card
(entry fee + taker stop exit at the slipped stop, over the risk after fees, as ``size_position`` counts it).
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

from tradebot.backtest.data import load_candles
from tradebot.backtest.engine import run_backtest
from tradebot.backtest.models import BacktestResult
from tradebot.backtest.report import compute_metrics
from tradebot.market import fit_interval
from tradebot.settings.config import FileConfig, load_file_config
from tradebot.sizing.execution import ExecutionSettings

DESCRIPTION = "fees as a share of gross and net PnL, market vs maker-first entries, on BTCUSDT and ETHUSDT"
SAMPLES = Path(__file__).resolve().parent.parent / "data" / "sample"
FILES = {"BTCUSDT": SAMPLES / "BTCUSDT_5m.csv", "ETHUSDT": SAMPLES / "ETHUSDT_5m.csv"}


def card_fee_share(result: BacktestResult) -> float | None:
    """The largest share of the risk the fees took on any trade's card: (entry fee + stop exit fee) over the
    loss per coin at the stop (price loss to the slipped stop + both fees)."""
    r = result.risk
    g = r.slippage_pct / 100
    worst = None
    for t in result.trades:
        e_rate = r.maker_fee_rate if t.entry_maker else r.taker_fee_rate
        x = t.sl * (1 - t.sign * g)
        fees = e_rate * t.entry_price + r.taker_fee_rate * x
        share = float(fees / (t.sign * (t.entry_price - x) + fees) * 100)
        worst = share if worst is None else max(worst, share)
    return worst


def line(name: str, result: BacktestResult) -> str:
    m = compute_metrics(result)
    share_gross = f"{m.fee_share_pct:.1f}%" if m.fee_share_pct is not None else "all (gross <= 0)"
    share_net = f"{float(m.fees / abs(m.net_pnl) * 100):.1f}%" if m.net_pnl else "-"
    card = card_fee_share(result)
    refused = sum(n for k, n in result.refusals.items() if "max_fee_share" in k or "fees would take" in k)
    return (f"  {name:<12} trades {m.trades:>3}  fees {m.fees:>9.2f} (maker {m.maker_fees:.2f}, taker "
            f"{m.taker_fees:.2f})  gross {m.gross_pnl:>9.2f}  net {m.net_pnl:>9.2f}  fees/gross {share_gross:>8}  "
            f"fees/|net| {share_net:>7}  max card fee share {'-' if card is None else f'{card:.1f}%'}  "
            f"refused for fees {refused}")


def run(cfg: FileConfig, interval: str, symbols: list[str]) -> list[str]:
    out = []
    for symbol in symbols:
        df, q = load_candles(FILES[symbol], report=lambda _: None)
        df = fit_interval(df, q.interval_ms, interval, say=lambda _: None)
        out.append(f"{symbol} {interval}m, {len(df)} bars ({df.index[0]:%Y-%m-%d} → {df.index[-1]:%Y-%m-%d}):")
        for mode in ("market", "maker_first"):
            ex = cfg.execution.model_copy(update={"mode": mode})
            res = run_backtest(df, cfg.risk, symbol, Decimal(10000), strategy=cfg.strategy, execution=ex)
            out.append(line(mode, res))
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench fees", description=DESCRIPTION)
    ap.add_argument("--config", help="a config.toml to read [bot]/[risk]/[strategy]/[execution] from (default: the "
                                     "built-in defaults)")
    ap.add_argument("--interval", help="candle interval in minutes (default: the config's [bot] interval)")
    args = ap.parse_args(argv)
    cfg, _ = load_file_config(Path(args.config) if args.config else None)
    interval = args.interval or cfg.bot.interval
    ex: ExecutionSettings = cfg.execution
    print(f"settings: interval {interval}m, SL {cfg.risk.sl_atr} ATR, TP {cfg.risk.tp_atr} ATR, max_fee_share "
          f"{cfg.risk.max_fee_share}, fees maker {cfg.risk.maker_fee_rate} / taker {cfg.risk.taker_fee_rate}; "
          f"maker-first window {ex.reprice_window_s:g} s, fallback {ex.fallback}")
    for text in run(cfg, interval, list(FILES)):
        print(text)
    return 0
