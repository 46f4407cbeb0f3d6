"""One parameter set over the walk-forward windows: backtest each train and test part, score it, aggregate."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from tradebot.backtest.data import htf_frames
from tradebot.backtest.engine import run_backtest
from tradebot.backtest.models import BacktestResult
from tradebot.backtest.ticks import CompiledWalk
from tradebot.market import index_ms
from tradebot.optimize.settings import Objective
from tradebot.optimize.windows import DAY_MS, Plan, Span
from tradebot.sizing.execution import MARKET_ENTRIES, ExecutionSettings
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams, compute_series

YEAR_MS = 365 * DAY_MS
MIN_DRAWDOWN_PCT = 0.1  # Calmar's floor: a run that never drew down is not infinitely good


@dataclass(frozen=True)
class PartResult:
    """One symbol over one span."""

    score: float
    pnl: float  # USDT after fees
    fees: float
    trades: int
    return_pct: float
    max_dd_pct: float


@dataclass
class Evaluation:
    """A parameter set's in-sample (train parts) and out-of-sample (test parts) results, per window and overall."""

    is_windows: list[float] = field(default_factory=list)  # score per window, mean over symbols
    oos_windows: list[float] = field(default_factory=list)
    is_parts: list[PartResult] = field(default_factory=list)
    oos_parts: list[PartResult] = field(default_factory=list)

    @property
    def is_score(self) -> float:
        return float(np.mean(self.is_windows)) if self.is_windows else 0.0

    @property
    def oos_score(self) -> float:
        return float(np.mean(self.oos_windows)) if self.oos_windows else 0.0

    @staticmethod
    def totals(parts: list[PartResult]) -> dict[str, float]:
        return {"pnl": round(sum(p.pnl for p in parts), 2), "fees": round(sum(p.fees for p in parts), 2),
                "trades": sum(p.trades for p in parts),
                "max_dd_pct": round(max((p.max_dd_pct for p in parts), default=0.0), 2)}

    def attrs(self) -> dict[str, object]:
        """What a trial stores (JSON-safe) for the report."""
        return {"is_score": self.is_score, "oos_score": self.oos_score,
                "is_windows": self.is_windows, "oos_windows": self.oos_windows,
                "is": self.totals(self.is_parts), "oos": self.totals(self.oos_parts)}


def score_of(objective: Objective, equity: np.ndarray, step_ms: int, days: float, balance: float) -> float:
    """net_pnl: % return per 30 days; sharpe: annualised Sharpe of bar returns; calmar: annual % / max DD %."""
    if equity.size < 2 or days <= 0:
        return 0.0
    ret_pct = (equity[-1] / balance - 1) * 100
    if objective == "net_pnl":
        return float(ret_pct * 30 / days)
    if objective == "sharpe":
        r = np.diff(equity) / equity[:-1]
        sd = float(np.std(r))
        return 0.0 if sd == 0 or not math.isfinite(sd) else float(np.mean(r) / sd * math.sqrt(YEAR_MS / step_ms))
    dd = max(max_drawdown_pct(equity), MIN_DRAWDOWN_PCT)
    return float(ret_pct * 365 / days / dd)


def max_drawdown_pct(equity: np.ndarray) -> float:
    peak = np.maximum.accumulate(equity)
    return float(np.max((peak - equity) / peak) * 100) if equity.size else 0.0


class Evaluator:
    """Holds the candles of every symbol and caches signal series per strategy (risk-only changes reuse them)."""

    def __init__(self, frames: dict[str, pd.DataFrame], plan: Plan, objective: Objective, balance: Decimal,
                 cache_size: int = 4, execution: ExecutionSettings = MARKET_ENTRIES) -> None:
        self.frames, self.plan, self.objective, self.balance = frames, plan, objective, balance
        self.execution = execution  # how entries are sent in every backtest (the live [execution])
        self._ts = {s: index_ms(df.index) for s, df in frames.items()}
        self._cache: OrderedDict[str, dict[str, pd.DataFrame]] = OrderedDict()
        self._cache_size = cache_size
        self.walks = CompiledWalk()  # every backtest of this search counts toward the compiled walk's switch

    def series(self, strategy: StrategyParams) -> dict[str, pd.DataFrame]:
        key = strategy.model_dump_json()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        out = {s: compute_series(df, strategy, htf_frames(df, strategy)) for s, df in self.frames.items()}
        self._cache[key] = out
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out

    def run(self, symbol: str, span: Span, risk: RiskParams, strategy: StrategyParams) -> BacktestResult:
        """Backtest ``symbol`` trading only inside ``span`` (indicators are warm from the bars before it)."""
        series = self.series(strategy)[symbol]
        ts = self._ts[symbol]
        a = int(np.searchsorted(ts, span.start_ms, side="left"))
        b = int(np.searchsorted(ts, span.end_ms, side="left"))
        if b - a < 2:
            raise ValueError(f"{symbol}: fewer than 2 candles in {span.label()}")
        lo = max(0, a - 1)
        df = self.frames[symbol]
        return run_backtest(df.iloc[lo:b], risk, symbol, self.balance, strategy=strategy, start=df.index[a],
                            series=series.iloc[lo:b], execution=self.execution, walks=self.walks)

    def part(self, result: BacktestResult, span: Span) -> PartResult:
        eq = result.equity.to_numpy(np.float64)
        bal = float(self.balance)
        return PartResult(score=score_of(self.objective, eq, result.interval_ms, span.days, bal),
                          pnl=float(result.final_balance - result.initial_balance),
                          fees=float(sum((t.fees for t in result.trades), Decimal(0))), trades=len(result.trades),
                          return_pct=float((eq[-1] / bal - 1) * 100) if eq.size else 0.0,
                          max_dd_pct=max_drawdown_pct(eq))

    def evaluate(self, risk: RiskParams, strategy: StrategyParams) -> Evaluation:
        ev = Evaluation()
        for w in self.plan.windows:
            for span, scores, parts in ((w.train, ev.is_windows, ev.is_parts), (w.test, ev.oos_windows, ev.oos_parts)):
                got = [self.part(self.run(s, span, risk, strategy), span) for s in self.frames]
                parts.extend(got)
                scores.append(float(np.mean([p.score for p in got])))
        return ev

    def holdout(self, risk: RiskParams, strategy: StrategyParams) -> dict[str, object] | None:
        span = self.plan.holdout
        if span is None:
            return None
        parts = [self.part(self.run(s, span, risk, strategy), span) for s in self.frames]
        return {"score": float(np.mean([p.score for p in parts])), **Evaluation.totals(parts)}

    def equity(self, span: Span, risk: RiskParams, strategy: StrategyParams, chained: bool = True
               ) -> tuple[pd.Series, pd.Series]:
        """(strategy equity, buy-and-hold) over ``span`` per ``balance``, mean over symbols; the walk-forward
        test parts are run one by one (each starts fresh, as scored) and chained when ``chained``."""
        spans = [w.test for w in self.plan.windows if span.start_ms <= w.test.start_ms < span.end_ms] if chained \
            else [span]
        bal = float(self.balance)
        curves, holds = [], []
        for s in self.frames:
            level, pieces = 1.0, []
            for sp in spans:
                eq = self.run(s, sp, risk, strategy).equity / bal
                pieces.append(eq * level)
                level *= float(eq.iloc[-1])
            curves.append(pd.concat(pieces))
            close = self.frames[s]["close"]
            close = close[(close.index >= curves[-1].index[0]) & (close.index <= curves[-1].index[-1])]
            holds.append(close / close.iloc[0])
        eq = pd.concat(curves, axis=1).ffill().mean(axis=1) * bal
        bh = pd.concat(holds, axis=1).ffill().mean(axis=1) * bal
        return eq, bh
