"""Weighted-vote signal engine: `compute_series` (every bar, vectorised) and `compute_signal` (live)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tradebot.market import COLUMNS, close_time_ms, index_ms, interval_ms, ms_to_datetime
from tradebot.strategy.arrays import EMA, SMA, Candles, Raw
from tradebot.strategy.indicator import Inputs
from tradebot.strategy.indicators import compute_raw
from tradebot.strategy.params import HTFParams, OrderBookParams, StrategyParams
from tradebot.strategy.signal import Signal, Vote, decide
from tradebot.strategy.votes import ScalarOps, VecOps, trend_vote

HTF = Mapping[str, pd.DataFrame]
WARMING_UP = "warming up"
_COLUMNS = list(COLUMNS)


def _candles(df: pd.DataFrame) -> tuple[Candles, np.ndarray | None, int]:
    """Float64 arrays of the valid rows, the validity mask (None when every row is valid) and the open
    time (ms) of the last row."""
    if df.columns.tolist() == _COLUMNS:
        a = df.to_numpy(dtype=np.float64)
    else:
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"candle frame lacks column(s): {', '.join(missing)}")
        a = df[list(COLUMNS)].to_numpy(dtype=np.float64)
    ts = index_ms(df.index)
    _check_increasing(df.index, "candle")
    last_ms = int(ts[-1]) if ts.size else 0
    mask = None
    if not math.isfinite(a.sum()) and not bool(np.isfinite(a).all()):  # cheap check first
        mask = np.isfinite(a[:, :4]).all(axis=1)
        a = a[mask].copy()
        a[:, 4] = np.where(np.isfinite(a[:, 4]), a[:, 4], 0.0)
        ts = ts[mask]
        if bool(mask.all()):
            mask = None
    cols = [np.ascontiguousarray(a[:, k]) for k in range(5)]
    return Candles(cols[0], cols[1], cols[2], cols[3], cols[4], ts), mask, last_ms


def _check_increasing(index: pd.Index, what: str) -> None:
    # both properties are cached on the Index, so repeated calls with the same frame are free
    if not (index.is_monotonic_increasing and index.is_unique):
        raise ValueError(f"{what} index must be strictly increasing (oldest first, no duplicate times)")


def _base_close_ms(ts: np.ndarray) -> np.ndarray:
    """Close time of each base bar: open time + the smallest spacing of the index (0 with one bar)."""
    if ts.size < 2:
        return ts
    return ts + int((ts[1:] - ts[:-1]).min())


def _htf_raw(frame: pd.DataFrame | None, hp: HTFParams) -> tuple[np.ndarray, Raw] | None:
    """Close times and the ``close``/``ma`` arrays of one higher-timeframe frame (None if no candles)."""
    if frame is None or len(frame) == 0:
        return None
    if frame.columns.tolist() == _COLUMNS:  # one float block: much cheaper than frame["close"]
        close = frame.to_numpy(dtype=np.float64)[:, 3]
    else:
        close = frame["close"].to_numpy(dtype=np.float64)
    ts = index_ms(frame.index)
    _check_increasing(frame.index, "higher-timeframe")
    if not math.isfinite(close.sum()):
        finite = np.isfinite(close)
        close, ts = close[finite], ts[finite]
    if not close.flags.c_contiguous:
        close = np.ascontiguousarray(close)
    ma = EMA(close, hp.period) if hp.method == "ema_slope" else SMA(close, hp.period)
    return ts, {"close": close, "ma": ma}


def _last_closed(open_ms: np.ndarray, interval: str, base_close: Any) -> Any:
    """Index of the last HTF candle whose close time is ≤ ``base_close`` (-1 if none), per base bar."""
    step = interval_ms(interval)
    if step is None:
        return close_time_ms(open_ms, interval).searchsorted(base_close, side="right") - 1
    return open_ms.searchsorted(base_close - step, side="right") - 1


def _htf_series(frame: pd.DataFrame | None, hp: HTFParams, base_close: np.ndarray) -> np.ndarray:
    prepared = _htf_raw(frame, hp)
    if prepared is None or prepared[0].size == 0:
        return np.zeros(base_close.shape[0])
    open_ms, raw = prepared
    ops = VecOps(raw)
    _, vote, ok = trend_vote(ops, hp.method, hp.flat_pct)
    vote, valid = ops.finish(vote, ok)
    pos = _last_closed(open_ms, hp.interval, base_close)
    has = pos >= 0
    safe = np.where(has, pos, 0)
    return np.where(has & valid[safe], vote[safe], 0.0)


_TREND = {1.0: "up", -1.0: "down", 0.0: "sideways"}


def _htf_vote(frame: pd.DataFrame | None, hp: HTFParams, base_close: int) -> Vote:
    name = f"htf_{hp.interval}"
    prepared = _htf_raw(frame, hp)
    if prepared is None or prepared[0].size == 0:
        return Vote(name, None, 0.0, hp.weight, 0.0, True, f"no {hp.interval} candles")
    open_ms, raw = prepared
    pos = int(_last_closed(open_ms, hp.interval, base_close))
    if pos < 0:
        return Vote(name, None, 0.0, hp.weight, 0.0, True, WARMING_UP)
    ops = ScalarOps(raw, pos, pos)
    value, vote, ok = trend_vote(ops, hp.method, hp.flat_pct)
    vote, valid = ops.finish(vote, ok)
    note = _TREND.get(vote, "") if valid else WARMING_UP
    return Vote(name, value if valid else None, vote, hp.weight, hp.weight * vote, not valid, note)


Levels = Sequence[tuple[Decimal | float | str, Decimal | float | str]]  # (price, size), in any order


class BookSides(Protocol):
    """An order book as the strategy reads it (``OrderBook``, the REST and stream model, is one)."""

    @property
    def bids(self) -> Levels: ...
    @property
    def asks(self) -> Levels: ...


Book = BookSides | Mapping[str, Levels]  # or a mapping with "bids" and "asks"


def _top_size(side: Levels, depth: int, highest_first: bool) -> float:
    """Σ size of the ``depth`` best levels (prices compared as given unless they are strings)."""
    levels: list[tuple[Decimal | float | str, Decimal | float | str]] = list(side)
    if levels and isinstance(levels[0][0], str):
        levels = [(float(price), size) for price, size in levels]
    levels.sort(key=itemgetter(0), reverse=highest_first)  # near-free when already best-first
    return sum(float(size) for _, size in levels[:depth])


def book_imbalance(book: Book, depth: int) -> float | None:
    """(bid size - ask size) / (bid size + ask size) over the best ``depth`` levels of each side.

    ``book`` has ``bids``/``asks`` (mapping keys or attributes): sequences of (price, size) as Decimal,
    float or str, in any order. None when both sides are empty.
    """
    bids, asks = (book["bids"], book["asks"]) if isinstance(book, Mapping) else (book.bids, book.asks)
    bid_vol = _top_size(bids, depth, True)
    ask_vol = _top_size(asks, depth, False)
    total = bid_vol + ask_vol
    if not total > 0.0 or not math.isfinite(total):
        return None
    return (bid_vol - ask_vol) / total


def _book_vote(book: Book | None, p: OrderBookParams) -> Vote:
    """Vote = clip(imbalance / full_imbalance, -1, 1); abstains without a (non-empty) book."""
    if book is None:
        return Vote("orderbook", None, 0.0, p.weight, 0.0, True, "no order book")
    imbalance = book_imbalance(book, p.depth)
    if imbalance is None:
        return Vote("orderbook", None, 0.0, p.weight, 0.0, True, "empty order book")
    vote = min(max(imbalance / p.full_imbalance, -1.0), 1.0)
    return Vote("orderbook", imbalance, vote, p.weight, p.weight * vote, False, "")


def _vote_weights(params: StrategyParams) -> list[tuple[str, float]]:
    out = [(indicator.name, sub.weight) for indicator, sub in params.enabled()]
    out += [(f"htf_{h.interval}", h.weight) for h in params.higher_timeframes]
    return out + ([("orderbook", params.orderbook.weight)] if params.orderbook.enabled else [])


def vote_columns(params: StrategyParams) -> list[str]:
    """Names of the per-vote columns of :func:`compute_series` (and of the breakdown), in score order."""
    return [name for name, _ in _vote_weights(params)]


def compute_series(
    df: pd.DataFrame, params: StrategyParams, htf: HTF | None = None, book: Book | None = None
) -> pd.DataFrame:
    """Score, action, ATR (0.0 while unavailable) and every vote for every bar of ``df`` (vectorised).

    ``df``: candles oldest first, UTC DatetimeIndex of bar open times, float64 open/high/low/close/volume.
    ``htf``: higher-timeframe candle frames keyed by interval ("60", "240", "D"); a configured interval
    without a frame abstains. ``book`` (optional) votes on the last bar only, as in :func:`compute_signal`.

    Score = Σ weight × vote over enabled indicators, each configured higher timeframe and the order book;
    BUY when score ≥ threshold, SELL when score ≤ -threshold, else HOLD. Both functions run the same
    TA-Lib calls and the same vote arithmetic, so the live signal for the last bar equals the last row
    here exactly.

    Higher timeframes: an HTF candle is used from the first base bar whose close time (open + base
    interval, inferred as the smallest spacing of the index; 0 with a single bar) is at or after the HTF
    candle's close time, so no bar sees a candle that had not closed yet. Rows with a non-finite
    open/high/low/close are skipped by the indicators and vote nothing (score 0, HOLD); a non-finite
    volume counts as 0. Gaps are not filled: indicators run over the bars present.
    """
    score, atr, cols = _score_arrays(df, params, htf, book)
    th = params.threshold
    action = np.where(score >= th, "BUY", np.where(score <= -th, "SELL", "HOLD"))
    out = pd.DataFrame({"score": score, "action": action, "atr": atr, **cols}, index=df.index)
    return out


def compute_actions(df: pd.DataFrame, params: StrategyParams, htf: HTF | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`compute_series`'s action and ATR columns only, as arrays: (int8 +1 BUY / -1 SELL / 0 HOLD, ATR).

    The backtest's path: it skips building the frame (its string column alone costs more than some indicators)."""
    score, atr, _ = _score_arrays(df, params, htf, None, keep_votes=False)
    th = params.threshold
    return np.where(score >= th, 1, np.where(score <= -th, -1, 0)).astype(np.int8), atr


def _score_arrays(df: pd.DataFrame, params: StrategyParams, htf: HTF | None, book: Book | None, keep_votes: bool = True
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Score, ATR (0.0 while unavailable) and every vote column (none unless ``keep_votes``), one value per
    row of ``df``.

    Memory: each indicator is computed, voted and its raw arrays dropped before the next one runs, so a year
    of 1m holds one indicator's arrays at a time, not all of them (the backtest's peak memory)."""
    candles, mask, _ = _candles(df)
    n = len(candles)
    cols: dict[str, np.ndarray] = {}
    score = np.zeros(n)
    with np.errstate(all="ignore"):
        chosen = params.enabled()
        raw = compute_raw(candles, params, indicators=[])
        base = set(raw)
        ops, inputs = VecOps(raw), Inputs(candles, raw["atr"], params.atr_period, False)
        for indicator, sub in chosen:
            indicator.compute(inputs, sub, raw)
            _, vote, ok = indicator.vote(ops, sub)
            finished, _ = ops.finish(vote, ok)
            score += sub.weight * finished
            if keep_votes:
                cols[indicator.name] = finished
            for key in set(raw) - base:
                del raw[key]
        base_close = _base_close_ms(candles.ts_ms)
        for hp in params.higher_timeframes:
            vote = _htf_series((htf or {}).get(hp.interval), hp, base_close)
            cols[f"htf_{hp.interval}"] = vote
            score = score + hp.weight * vote
        if params.orderbook.enabled:
            vote = np.zeros(n)
            if book is not None and n and (mask is None or bool(mask[-1])):
                vote[-1] = _book_vote(book, params.orderbook).vote
            cols["orderbook"] = vote
            score = score + params.orderbook.weight * vote
    atr = raw["atr"]
    atr = np.where(np.isfinite(atr), atr, 0.0)
    if mask is not None:
        score, atr = _scatter(score, mask), _scatter(atr, mask)
        cols = {k: _scatter(v, mask) for k, v in cols.items()}
    return score, atr, cols


def _scatter(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros(mask.shape[0])
    out[mask] = values
    return out


def _decimal(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def compute_signal(
    symbol: str, df: pd.DataFrame, params: StrategyParams, book: Book | None = None, htf: HTF | None = None
) -> Signal:
    """The signal for the last bar of ``df`` with its full breakdown (equals ``compute_series`` there)."""
    if len(df) == 0:
        raise ValueError("compute_signal needs at least one candle")
    candles, mask, last_ms = _candles(df)
    time = ms_to_datetime(last_ms)
    if mask is not None and not bool(mask[-1]):
        votes = tuple(Vote(n, None, 0.0, w, 0.0, True, "invalid candle") for n, w in _vote_weights(params))
        close = float(df["close"].iloc[-1])
        return Signal(symbol, time, _decimal(close), "HOLD", 0.0, params.threshold, Decimal("0"), votes)
    i = len(candles) - 1
    breakdown: list[Vote] = []
    score = 0.0
    with np.errstate(all="ignore"):
        chosen = params.enabled()
        raw = compute_raw(candles, params, live=True, indicators=chosen)
        ops = ScalarOps(raw, -1, i)
        for indicator, sub in chosen:
            value, vote, ok = indicator.vote(ops, sub)
            vote, valid = ops.finish(vote, ok)
            w = sub.weight
            contribution = w * vote
            score = score + contribution
            shown = value if math.isfinite(value) else None
            breakdown.append(Vote(indicator.name, shown, vote, w, contribution, not valid,
                                  "" if valid else WARMING_UP))
        if params.higher_timeframes:
            base_close = int(_base_close_ms(candles.ts_ms)[-1])
            for hp in params.higher_timeframes:
                v = _htf_vote((htf or {}).get(hp.interval), hp, base_close)
                score = score + v.contribution
                breakdown.append(v)
    if params.orderbook.enabled:
        v = _book_vote(book, params.orderbook)
        score = score + v.contribution
        breakdown.append(v)
    atr = float(raw["atr"][-1])
    return Signal(
        symbol=symbol,
        time=time,
        price=_decimal(candles.close[i]),
        action=decide(score, params.threshold),
        score=score,
        threshold=params.threshold,
        atr=_decimal(atr) if math.isfinite(atr) else Decimal("0"),
        breakdown=tuple(breakdown),
    )
