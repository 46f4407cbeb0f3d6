"""Backtester: replay history through the live signal, sizing and stop code against the simulator's fill rules."""

from tradebot.backtest.engine import run_backtest
from tradebot.backtest.models import BacktestResult, Pause, Trade
from tradebot.backtest.report import compute_metrics, render_summary, to_dict

__all__ = ["BacktestResult", "Pause", "Trade", "compute_metrics", "plot_equity", "render_summary", "run_backtest",
           "to_dict"]


def __getattr__(name: str) -> object:
    if name == "plot_equity":  # matplotlib loads only when a plot is drawn (a second off every CLI backtest)
        from tradebot.backtest.plot import plot_equity

        return plot_equity
    raise AttributeError(name)
