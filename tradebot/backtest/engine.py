"""The bar loop: vectorised signals, then the live tick rules against the simulator's fills, fast-forwarding flat bars."""

from __future__ import annotations

import functools
import gc
import math
import re
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from tradebot.backtest import tickpath
from tradebot.backtest.data import default_instrument, htf_frames
from tradebot.backtest.funding import FundingBook
from tradebot.backtest.maker import find_fill, limit_price
from tradebot.backtest.models import MARKET, BacktestResult, Pause, Trade
from tradebot.backtest.position import Replayer, dec
from tradebot.backtest.protect import Protections
from tradebot.backtest.ticks import CompiledWalk
from tradebot.backtest.walk import Bars, DecimalRunner
from tradebot.market import index_ms, ms_to_datetime
from tradebot.market_model.book import BookParams
from tradebot.settings.config import Config
from tradebot.side import Side
from tradebot.sizing.execution import ExecutionSettings
from tradebot.sizing.instruments import Instrument
from tradebot.sizing.risk import RiskParams, size_position
from tradebot.strategy import StrategyParams
from tradebot.strategy.engine import compute_actions

_TOO_SMALL = "qty below the minimum order qty (balance too small for the risk)"
_UNFILLED = "maker entry not filled within its window (fallback skip)"
_NUMBER = re.compile(r"-?\d+(\.\d+)?(E[-+]?\d+)?")
P = ParamSpec("P")
R = TypeVar("R")


def _settings(cfg: Config | RiskParams, strategy: StrategyParams | None) -> tuple[RiskParams, StrategyParams]:
    if isinstance(cfg, RiskParams):
        return cfg, strategy or StrategyParams()
    return cfg.risk, strategy or cfg.strategy


def _without_gc(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with the cyclic garbage collector paused: a backtest makes many small acyclic objects, and
    collections triggered by them (full ones over every live pandas object) cost a fifth of a run."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        was_on = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_on:
                gc.enable()

    return run


@_without_gc
def run_backtest(
    df: pd.DataFrame,
    cfg: Config | RiskParams,
    symbol: str = "BTCUSDT",
    balance: Decimal = Decimal("10000"),
    *,
    strategy: StrategyParams | None = None,
    inst: Instrument | None = None,
    book_params: BookParams | None = None,
    taker_fee: Decimal | None = None,
    start: pd.Timestamp | None = None,
    htf: dict[str, pd.DataFrame] | None = None,
    series: pd.DataFrame | None = None,
    progress: bool = False,
    verify: bool = False,
    exact: bool = False,
    funding: Sequence[tuple[int, Decimal]] | None = None,
    execution: ExecutionSettings | None = None,
    maker_fee: Decimal | None = None,
    walks: CompiledWalk | None = None,
) -> BacktestResult:
    """Replay ``df`` (closed candles, oldest first) through the live signal, sizing and stop rules.

    ``cfg`` is the app Config (risk + strategy) or RiskParams (then ``strategy`` or the defaults). Bars before
    ``start`` only warm the indicators up. ``book_params`` defaults to the simulator's synthetic book;
    ``taker_fee`` to ``risk.taker_fee_rate``. Higher timeframes are resampled from ``df`` unless given.
    ``series`` replaces the signal computation (rows aligned with ``df``, columns ``action`` and ``atr``).
    ``verify`` (tests) cross-checks the protections' fast path against ``protection_state`` on every signal.
    ``funding`` is the funding-rate history as (settlement ms, rate) pairs: each position pays or receives
    funding at the settlements it holds, inside its PnL (see :class:`tradebot.backtest.funding.FundingBook`);
    None = funding not included (the report says so).
    ``exact`` forces the Decimal replay even where the integer-tick replay applies (benchmarks and tests compare
    the two). ``execution``: how entries are sent (default: ``cfg.execution`` for a Config, market entries for
    RiskParams); maker-first entries and the limit take-profit follow :mod:`tradebot.backtest.maker`, paying
    ``maker_fee`` (default ``risk.maker_fee_rate``). ``walks``: when the bot-trailing walk runs compiled (a
    long-lived process passes the same one to each backtest; default: a new one, so a one-off stays in Python).
    """
    t0 = time.perf_counter()
    risk, params = _settings(cfg, strategy)
    inst = inst or default_instrument(symbol)
    book = book_params if book_params is not None else BookParams()
    fee = risk.taker_fee_rate if taker_fee is None else taker_fee
    ex_cfg = execution or (cfg.execution if isinstance(cfg, Config) else MARKET)
    maker = ex_cfg.maker
    m_fee = risk.maker_fee_rate if maker_fee is None else maker_fee
    tp_fee = m_fee if maker else fee
    if len(df) < 2:
        raise ValueError(f"need at least 2 candles to backtest, got {len(df)}")
    if series is None:
        sig, atr = compute_actions(df, params, htf if htf is not None else htf_frames(df, params))
    else:
        action = series["action"]
        buy = (action == "BUY").to_numpy(dtype=bool)  # compared in the column's own (Arrow) storage: no objects
        sig = np.where(buy, 1, np.where((action == "SELL").to_numpy(dtype=bool), -1, 0)).astype(np.int8)
        atr = series["atr"].to_numpy(np.float64)
    t_signals = time.perf_counter()

    bars = Bars(df)
    n, ts = bars.n, bars.ts
    i0 = max(1, int(np.searchsorted(ts, index_ms(pd.DatetimeIndex([start]))[0]))) if start is not None else 1
    ks = np.flatnonzero(sig[:-1] != 0)
    ks = ks[ks + 1 >= i0]
    ks_list = ks.tolist()
    rp = Replayer(inst, risk, book, fee)
    window, unfilled = ex_cfg.window_bars(bars.interval_ms), 0
    raw_refusals: dict[str, list[list[str]]] = {}
    runner = DecimalRunner(bars, rp, risk)
    cols = None if exact or not tickpath.usable(risk) else tickpath.tick_columns(bars.arr, inst.tick_size)
    fast = tickpath.TickPath(cols, inst, risk, book, fee, walks) if cols is not None else None

    def open_at(t_ms: int) -> Decimal:
        return dec(bars.arr[0].item(min(int(np.searchsorted(ts, t_ms)), n - 1)))

    def price_at(t_ms: int) -> Decimal:  # the open of the bar holding t: known at t, no look-ahead
        return dec(bars.arr[0].item(max(0, int(np.searchsorted(ts, t_ms, side="right")) - 1)))

    fbook = FundingBook(funding, price_at) if funding is not None else None
    funding_paid, settlements = Decimal(0), 0

    prot = Protections(symbol, risk, balance, ts[ks + 1], open_at, verify=verify)
    min_qty = float(inst.min_qty) * (1 - 1e-9)
    risk_frac, sl_atr, lev = float(risk.risk_pct) / 100, float(risk.sl_atr), float(risk.leverage)
    wallet = balance
    trades: list[Trade] = []
    pauses: list[Pause] = []
    refusals: dict[str, int] = {}
    pause_start: tuple[int, tuple[str, ...], int] | None = None  # (tick ms, reasons, signal index)
    next_tick = i0
    atr_at, ts_at, sig_at, open_at_bar = atr.item, ts.item, sig.item, bars.arr[0].item  # scalar reads, no lists
    bar_pbar = tqdm(total=n - i0, unit="bar", mininterval=0.25, desc=f"backtest {symbol}") if progress else None
    while True:
        p = bisect_left(ks_list, next_tick - 1)
        if p >= len(ks_list):
            break
        k = ks_list[p]
        j = k + 1
        if bar_pbar is not None:
            bar_pbar.update(j - i0 - bar_pbar.n)
        a = atr_at(k)
        w = float(wallet)
        if a > 0 and min(w * risk_frac / (sl_atr * a), w * lev / open_at_bar(j)) < min_qty:
            refusals[_TOO_SMALL] = refusals.get(_TOO_SMALL, 0) + 1  # size_position would refuse: skip the Decimal call
            next_tick = j + 1
            continue
        t_j, s_k = ts_at(j), sig_at(k)
        verdict = prot.check(t_j)
        if not verdict.state.entries_allowed:
            if pause_start is None:
                pause_start = (t_j, verdict.state.reasons, p)
            if verdict.retry_ms is None:
                break
            next_tick = max(j + 1, int(np.searchsorted(ts, verdict.retry_ms, side="left")))
            continue
        if pause_start is not None:
            pauses.append(Pause(ms_to_datetime(pause_start[0]), ms_to_datetime(t_j), pause_start[1],
                                p - pause_start[2]))
            pause_start = None
        side = Side.BUY if s_k > 0 else Side.SELL
        signal_atr = dec(a) if math.isfinite(a) else Decimal(0)
        e_bar, limit, fee_in = j, None, fee
        if maker:
            got = find_fill(side, limit_price(side, open_at_bar(j), inst), j, window, bars.h, bars.lo, inst)
            if got is not None:
                e_bar, limit, fee_in = got.bar, got.price, m_fee
            else:
                unfilled += 1
                if ex_cfg.fallback == "skip" or j + window >= n:
                    if ex_cfg.fallback == "skip":
                        refusals[_UNFILLED] = refusals.get(_UNFILLED, 0) + 1
                    next_tick = j + window
                    continue
                e_bar = j + window
        t_e = ts_at(e_bar)
        if fast is not None:
            sized = fast.size(s_k, e_bar, signal_atr, wallet, limit, fee_in)
            if isinstance(sized, str):
                _refused(raw_refusals, sized)
                next_tick = e_bar + 1
                continue
            qty, entry, ex = fast.run(s_k, sized, signal_atr, e_bar, limit, maker)
            tick = inst.tick_size
            sign, initial_sl, tp = s_k, sized[1] * tick, sized[2] * tick
            reason, moves, exit_sl = fast.reason(ex.kind), fast.runner.moves, sign * fast.runner.sl * tick
        else:
            ref = dec(open_at_bar(e_bar))
            sizing = size_position(side=side, entry_price=limit or ref, atr=signal_atr, available_balance=wallet,
                                   inst=inst, params=risk, entry_fee_rate=fee_in, tp_fee_rate=tp_fee)
            if not sizing.ok:
                _refused(raw_refusals, sizing.refused or "refused")
                next_tick = e_bar + 1
                continue
            tp_level = sizing.tp + side.sign * inst.tick_size * maker  # a limit TP fills only a tick beyond it
            pos = rp.open(side=side, qty=sizing.qty, ref=ref, atr=signal_atr, sl=sizing.sl, tp=tp_level, bar=e_bar,
                          limit=limit, limit_fee=m_fee)
            ex = runner.run(pos)
            qty, entry, sign, initial_sl, tp = pos.qty, pos.entry, pos.sign, pos.initial_sl, sizing.tp
            reason, moves, exit_sl = rp.close_reason(pos.last_stop_reason, ex.kind), pos.stop_moves, pos.sl
        exit_maker = maker and ex.kind == "TakeProfit"
        exit_px = tp if exit_maker else ex.price
        open_fee = qty * entry * fee_in
        close_fee = qty * exit_px * (m_fee if exit_maker else fee)
        gross = (exit_px - entry) * qty * sign
        pnl = gross - open_fee - close_fee
        exit_ms = bars.path_ms(ex.bar, ex.point)
        paid = Decimal(0)
        if fbook is not None:
            paid, held = fbook.charge(sign, qty, t_e, exit_ms)
            pnl -= paid
            funding_paid += paid
            settlements += held
        wallet += pnl
        trades.append(Trade(symbol, side, ms_to_datetime(t_e), entry, ms_to_datetime(exit_ms), exit_px,
                            qty, pnl, open_fee + close_fee, reason, initial_sl, tp, signal_atr, e_bar, ex.bar,
                            ex.point, open_fee, moves, exit_sl, paid, limit is not None, exit_maker))
        prot.record(exit_ms=exit_ms, entry_ms=t_e, pnl=pnl, open_fee=open_fee, sign=sign, entry=entry,
                    qty=qty)
        next_tick = ex.bar if ex.point == 0 else ex.bar + 1
    if pause_start is not None:
        skipped = len(ks_list) - pause_start[2]
        pauses.append(Pause(ms_to_datetime(pause_start[0]), None, pause_start[1], skipped))
    if bar_pbar is not None:
        bar_pbar.update(n - i0 - bar_pbar.n)
        bar_pbar.close()
    t_loop = time.perf_counter()
    refusals.update(_filled_in(raw_refusals))
    equity, in_pos = _equity(bars, trades, float(balance), i0)
    index = df.index[i0:]
    return BacktestResult(
        symbol=symbol, interval_ms=bars.interval_ms, start=ms_to_datetime(int(ts[i0])),
        end=ms_to_datetime(int(ts[-1]) + bars.interval_ms), bars=n - i0, initial_balance=balance,
        final_balance=wallet, trades=trades, equity=pd.Series(equity, index=index, name="equity"),
        in_position=in_pos, risk=risk, strategy=params, signals=len(ks_list), pauses=pauses, refusals=refusals,
        replay="ticks" if fast is not None else "decimal", funding_included=fbook is not None,
        funding_paid=funding_paid, funding_settlements=settlements, close=bars.arr[3][i0:],
        execution=ex_cfg, maker_unfilled=unfilled,
        timings={"signals_s": t_signals - t0, "loop_s": t_loop - t_signals, "report_s": time.perf_counter() - t_loop},
    )


def _refused(raw: dict[str, list[list[str]]], text: str) -> None:
    """Count a sizing refusal under its text with the numbers taken out (they are put back as ranges)."""
    head = text.split(" (")[0]
    raw.setdefault(_NUMBER.sub("#", head), []).append([m.group(0) for m in _NUMBER.finditer(head)])


def _filled_in(raw: dict[str, list[list[str]]]) -> dict[str, int]:
    """Each refusal's text with every number shown as the range it took (``28.4–61.2``), and its count."""
    out: dict[str, int] = {}
    for key, seen in raw.items():
        parts = key.split("#")
        text = parts[0]
        for i, part in enumerate(parts[1:]):
            vals = sorted({Decimal(v[i]) for v in seen if i < len(v)})
            lo, hi = (f"{v.normalize():f}" for v in (vals[0], vals[-1])) if vals else ("?", "?")
            text += (lo if lo == hi else f"{lo}–{hi}") + part
        out[text] = out.get(text, 0) + len(seen)
    return out


def _equity(bars: Bars, trades: list[Trade], balance: float, i0: int) -> tuple[np.ndarray, np.ndarray]:
    """Equity at every bar close: wallet (fees and realised PnL as they happen) + unrealised PnL at the close."""
    n = bars.n
    close = bars.arr[3]
    if not trades:
        return np.full(n - i0, balance), np.zeros(n - i0, dtype=bool)
    bars_at = np.array([(t.entry_bar, t.exit_bar) for t in trades], dtype=np.int64)
    money = np.array([(float(t.open_fee), float(t.pnl), float(t.qty), float(t.entry_price)) for t in trades])
    entry_bar, exit_bar = bars_at[:, 0], bars_at[:, 1]
    open_fee, pnl, entry = money[:, 0], money[:, 1], money[:, 3]
    signed_qty = money[:, 2] * np.array([t.sign for t in trades], dtype=np.float64)

    def steps(at: np.ndarray, weights: np.ndarray) -> np.ndarray:  # Σ weights per bar (bincount: no ufunc.at)
        return np.bincount(at, weights=weights, minlength=n + 1)

    delta = steps(entry_bar, -open_fee) + steps(exit_bar, pnl + open_fee)
    # positions never overlap: piecewise-constant qty and qty×entry over [entry_bar, exit_bar)
    held = exit_bar > entry_bar
    eb, xb, q = entry_bar[held], exit_bar[held], signed_qty[held]
    qty_at = np.cumsum(steps(eb, q) - steps(xb, q))[:n]
    cost_at = np.cumsum(steps(eb, q * entry[held]) - steps(xb, q * entry[held]))[:n]
    in_pos = np.cumsum(np.bincount(eb, minlength=n + 1) - np.bincount(xb, minlength=n + 1))[:n] > 0
    upl = np.where(in_pos, qty_at * close - cost_at, 0.0)
    equity = balance + np.cumsum(delta)[:n] + upl
    return equity[i0:], in_pos[i0:]
