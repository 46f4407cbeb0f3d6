"""The `bot.py optimize` command line (kept light: building the parser imports no Optuna or pandas)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
               output: Callable[[str], str] = str) -> None:
    """``output``: the type of the output file flags (bot.py's, which creates their parent directories)."""
    op = sub.add_parser("optimize", help="walk-forward parameter search with Optuna (local workers or PostgreSQL)")
    op.add_argument("--symbol", action="append", required=True, help="symbol to trade; repeat for several")
    op.add_argument("--interval", required=True, help="candle interval in minutes (1 3 5 15 30 60 ... or D)")
    src = op.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", nargs="+", metavar="FILE", help="candle CSV per --symbol, in the same order")
    src.add_argument("--days", type=int, help="download/cached days of Bybit's public klines (+ warm-up)")
    op.add_argument("--trials", type=int, required=True, help="finished trials the study should hold")
    op.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes on this host")
    op.add_argument("--storage", help="shared study storage, e.g. postgresql://user:pw@host/db "
                                      "(default: SQLite file data/cache/optuna.db)")
    op.add_argument("--study", help="study name (default: derived from symbols, interval, data and settings)")
    op.add_argument("--json", dest="json_out", type=output, help="write the report and every trial as JSON here")
    op.add_argument("--plot", type=output, help="write the summary PNG here (+ -equity/-importance/-history PNGs beside it)")
    op.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file (as bot.py --config)")
    op.add_argument("--objective", choices=("net_pnl", "sharpe", "calmar"), help="override optimize.objective")
    op.add_argument("--holdout", type=float, metavar="PCT", help="override optimize.holdout_pct")
    op.add_argument("--windows", type=int, help="override optimize.windows")
    op.add_argument("--no-progress", action="store_true")
