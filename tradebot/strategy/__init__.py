"""Signal engine: weighted TA-Lib indicator votes -> BUY/SELL/HOLD `Signal` with a breakdown."""

from tradebot.strategy.engine import book_imbalance, compute_series, compute_signal, vote_columns
from tradebot.strategy.params import StrategyParams
from tradebot.strategy.signal import Signal, Vote, decide

__all__ = [
    "Signal",
    "StrategyParams",
    "Vote",
    "book_imbalance",
    "compute_series",
    "compute_signal",
    "decide",
    "vote_columns",
]
