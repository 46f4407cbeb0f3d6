"""Exact integer replay: prices as integer ticks, quantities as integer qty steps, Decimal only at the edges."""

# Used by the bar loop (through tradebot.backtest.tickpath) when every candle price sits on the tick grid, with
# either trailing mode: the same rules as tradebot.backtest.position, with identical results (tests compare
# both). The stop walk is tradebot.rules.stop_walk itself (the rule's one home, which the live next_stop calls
# too); Bybit's trailing stop walks in tradebot.backtest.bybit_trail. The bot-trailing walk runs compiled
# (tradebot.backtest.kernel, checked against the rule in tests) once a CompiledWalk has walked enough positions to
# pay for loading numba.

from __future__ import annotations

import functools
import logging
from decimal import Decimal
from types import ModuleType

import numpy as np

from tradebot.backtest.bybit_trail import BybitTrail
from tradebot.backtest.position import Exit, ExitKind, journal_atr
from tradebot.market_model.book import BookParams, market_fill_price
from tradebot.rules.stop_walk import NEVER as _NEVER
from tradebot.rules.stop_walk import StopPlan, next_stop, trail_step
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument
from tradebot.sizing.risk import RiskParams

log = logging.getLogger(__name__)
_PROBE = 128  # bars scanned in Python before a quiet stretch is searched with numpy
trail_stop = trail_step  # the bot's trailing step in ticks (tests name it so)
# Positions walked in Python before a CompiledWalk loads the compiled walk: numba's import and the kernel's load
# cost ~0.4 s once per process and save ~10 µs per position, so a one-off backtest (even a year of 1m with
# thousands of trades) stays in Python and a long-lived process that keeps one CompiledWalk across its backtests
# (the benchmark preloads it) switches over.
KERNEL_AFTER = 50_000


class CompiledWalk:
    """Whether the bot-trailing bar walk runs compiled: counts the positions walked through it and loads the kernel
    (``tradebot.backtest.kernel``, numba) after ``after`` of them; ``enabled=False`` keeps the Python walk. One per
    backtest by default; a long-lived process keeps one across its backtests (state in this object, none in the
    module)."""

    def __init__(self, after: int = KERNEL_AFTER, enabled: bool = True) -> None:
        self.after, self.enabled, self.walked = after, enabled, 0
        self.kernel: ModuleType | None = None

    def __reduce__(self) -> tuple[type[CompiledWalk], tuple[int, bool]]:
        """Pickled (to a worker process) without the loaded module: the copy loads its own when it pays."""
        return CompiledWalk, (max(0, self.after - self.walked), self.enabled)

    def preload(self) -> ModuleType | None:
        """Load the compiled walk now (None without numba, or when disabled)."""
        if self.enabled and self.kernel is None:
            self.kernel = load_kernel()
        return self.kernel

    def count(self) -> ModuleType | None:
        """One more position walked: the kernel to walk it with, or None for the Python walk."""
        self.walked += 1
        if self.kernel is None and self.walked > self.after:
            self.preload()
        return self.kernel


class TickRunner:
    """Runs one position to its exit over integer-tick candles (long space: a short's prices are negated);
    Bybit's trailing stop walks in its :class:`BybitTrail`."""

    def __init__(self, cols: list[np.ndarray], inst: Instrument, risk: RiskParams, book: BookParams,
                 fee: Decimal, walks: CompiledWalk | None = None) -> None:
        o, h, lo, c = (np.asarray(x, dtype=np.int64) for x in cols)
        self.n = o.size
        self._long: tuple[list[int], ...] | None = None
        self.cols = (o, h, lo, c)
        self._short: tuple[list[int], ...] | None = None
        self._neg_low: np.ndarray | None = None
        self._neg_open: np.ndarray | None = None
        self._neg_high: np.ndarray | None = None
        self.inst, self.risk, self.book, self.fee = inst, risk, book, fee
        self.tick = inst.tick_size
        self.tn, self.td = inst.tick_size.as_integer_ratio()
        self.bot = risk.trailing_mode == "bot"
        self.exchange = risk.trailing_mode == "exchange"
        self.walks = walks if walks is not None else CompiledWalk()
        self.kernel = self.walks.kernel if self.bot else None  # loaded once it pays (see KERNEL_AFTER)
        self.plan = StopPlan(1, _NEVER, _NEVER, _NEVER, _NEVER, 0)
        self.ratios = {"fee": risk.taker_fee_rate.as_integer_ratio(),  # break-even at the rate the run sizes with
                       "be_trigger_atr": risk.breakeven_trigger_atr.as_integer_ratio(),
                       "be_offset_atr": risk.breakeven_offset_atr.as_integer_ratio(),
                       "trail_trigger_atr": risk.trail_trigger_atr.as_integer_ratio(),
                       "trail_atr": risk.trail_atr.as_integer_ratio()}
        # per-position state (long space)
        self.sl = self.tp = self.entry = self.best = 0
        self.s, self.qty, self.atr_mgmt = 1, Decimal(0), Decimal(0)
        self.be_done, self.reason, self.moves = False, "", 0
        self.bybit = BybitTrail(self)  # Bybit's trailing stop (trailing_mode "exchange")

    @property
    def long(self) -> tuple[list[int], ...]:
        """Open, high and low as lists (the Python walks' fast scalar reads; the close is read from numpy)."""
        if self._long is None:
            self._long = tuple(x.tolist() for x in self.cols[:3])
        return self._long

    @property
    def short(self) -> tuple[list[int], ...]:
        """A short's candles in long space (prices negated; its favourable extreme is the low)."""
        if self._short is None:
            o, h, lo, c = self.cols
            self._short = tuple((-x).tolist() for x in (o, lo, h))
        return self._short

    def fill(self, side: Side, qty: Decimal, base: int) -> int:
        price = market_fill_price(side, qty, base * self.tick, self.tick, self.book)
        return int(price / self.tick)

    def run(self, s: int, qty: Decimal, entry: int, sl: int, tp: int, atr: Decimal, j0: int) -> Exit:
        """``entry``/``sl``/``tp`` in real ticks; the position enters at bar ``j0``'s open."""
        if self.bot:
            self.kernel = self.walks.count()
        self.s, self.qty = s, qty
        self.entry, self.sl, self.tp, self.best = s * entry, s * sl, s * tp, s * entry
        self.be_done, self.reason, self.moves = False, "", 0
        self.atr_mgmt = am = journal_atr(atr)
        thr = self.t_trig = self.b_trig = _NEVER
        self.be_level, self.floor_d = -_NEVER, 0
        if am > 0:
            self.plan = plan = StopPlan.build(entry=(self.entry * self.tn, self.td), atr=am.as_integer_ratio(),
                                              unit=(self.tn, self.td), s=s, trailing=self.bot, tick=1, **self.ratios)
            self.floor_d, self.t_trig, self.b_trig = plan.trail_gap, plan.trail_trigger, plan.be_trigger
            if self.b_trig < self.tp:  # else unreachable: the take-profit closes the position first
                self.be_level = plan.breakeven_stop()  # else below any stop: break-even cannot tighten it
            thr = self.threshold()
        if self.exchange and atr > 0:  # the walks reading numpy arrays; the Python walk below reads lists
            ao, afav, aadv = self._arrays(s)
            return self.bybit.run(s, entry, atr, j0, thr, ao.item, afav.item, aadv.item)
        if self.kernel is not None:
            return self._run_kernel(s, j0, *self._arrays(s))
        o, fav, adv = self.long if s > 0 else self.short
        if adv[j0] <= self.sl or fav[j0] >= self.tp:
            return self._path(j0, fav[j0], adv[j0])
        n, j = self.n, j0 + 1
        best = self.best
        while j < n:
            sl, tp = self.sl, self.tp
            prev = fav[j - 1]
            if prev < thr and best < thr:  # skip bars where nothing can happen: only the best price moves
                hi = tp if tp < thr else thr
                k, stop = j, min(n, j + _PROBE)
                while k < stop and adv[k] > sl and fav[k] < hi:
                    k += 1
                if k == stop < n:  # a long quiet stretch: search it in numpy chunks
                    k = self._first_event(s, k, sl, hi)
                if k > j:
                    top = max(fav[j - 1:k]) if k - j <= _PROBE else int(self._fav(s)[j - 1:k].max())
                    if top > best:
                        best = top
                    j = k
                    if j >= n:
                        break
            oc = o[j]
            if oc <= sl or oc >= tp:  # the gap from the previous close fires the stop at the open
                return self.exit_at(j, 0, "StopLoss" if oc <= sl else "TakeProfit", oc)
            best = max(best, fav[j - 1], oc)
            self.best = best
            if best >= thr:
                self.manage(oc)
                thr = self.threshold()
            if adv[j] <= self.sl or fav[j] >= tp:
                return self._path(j, fav[j], adv[j])
            j += 1
        return self.exit_at(n - 1, 3, "EndOfData", s * self.cols[3].item(n - 1))

    def _run_kernel(self, s: int, j0: int, ko: np.ndarray, kfav: np.ndarray, kadv: np.ndarray) -> Exit:
        """The bar walk in the compiled kernel; the ticks it hands back (a possible break-even move, a trailing
        result still to be checked) are finished here with the rule itself (``manage``)."""
        k = self.kernel
        assert k is not None
        o, fav, adv = ko.item, kfav.item, kadv.item
        if adv(j0) <= self.sl or fav(j0) >= self.tp:
            return self._path(j0, fav(j0), adv(j0))
        j = j0 + 1
        while True:
            status, j, sl, best, moves = k.walk(ko, kfav, kadv, j, self.sl, self.tp, self.best, self.b_trig,
                                                self.be_level, self.be_done, self.t_trig, self.floor_d, s)
            self.best = best
            if moves:
                self.sl, self.reason, self.moves = sl, "trailing", self.moves + moves
            if status == k.MANAGE:
                self.manage(o(j))
                if adv(j) <= self.sl or fav(j) >= self.tp:
                    return self._path(j, fav(j), adv(j))
                j += 1
                continue
            if status == k.PATH:
                return self._path(j, fav(j), adv(j))
            if status == k.EXIT_GAP_SL:
                return self.exit_at(j, 0, "StopLoss", o(j))
            if status == k.EXIT_GAP_TP:
                return self.exit_at(j, 0, "TakeProfit", o(j))
            return self.exit_at(self.n - 1, 3, "EndOfData", s * self.cols[3].item(self.n - 1))

    def _arrays(self, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(open, favourable, adverse) as int64 arrays in long space, for the kernel."""
        o, h, lo, c = self.cols
        if s > 0:
            return o, h, lo
        if self._neg_open is None:
            self._neg_open = -o
        return self._neg_open, self._fav(s), self._adv_short()

    def _adv_short(self) -> np.ndarray:
        self._fav(-1)
        assert self._neg_high is not None
        return self._neg_high

    def _fav(self, s: int) -> np.ndarray:
        o, h, lo, c = self.cols
        if s > 0:
            return h
        if self._neg_low is None:
            self._neg_low, self._neg_high = -lo, -h
        return self._neg_low

    def _first_event(self, s: int, k: int, sl: int, hi: int) -> int:
        """First bar ≥ ``k`` whose adverse extreme reaches ``sl`` or favourable one reaches ``hi`` (long
        space), else n: numpy over doubling chunks."""
        fav = self._fav(s)
        adv = self.cols[2] if s > 0 else self._neg_high
        assert adv is not None  # _fav set it for a short
        n, size = self.n, 4 * _PROBE
        while k < n:
            e = min(n, k + size)
            hit = (adv[k:e] <= sl) | (fav[k:e] >= hi)
            i = int(hit.argmax())
            if hit[i]:
                return k + i
            k, size = e, size * 2
        return n

    def threshold(self) -> int:
        """The lowest best price (long space) at which a tick may move the stop."""
        thr = _NEVER
        if not self.be_done and self.be_level - self.sl >= 1:
            thr = self.b_trig
        if self.bot:
            thr = min(thr, max(self.t_trig, self.sl + self.floor_d + 1))
        return thr

    def _path(self, j: int, fav: int, adv: int) -> Exit:
        """The exit on bar ``j``'s path, which reaches the stop or the target: open→adverse→favourable→close
        (a bullish long, a bearish short) or open→favourable→adverse→close; the first level crossed fills."""
        sl, tp = self.sl, self.tp
        o, c = self.cols[0].item(j), self.cols[3].item(j)
        adverse_first = (c >= o) == (self.s > 0)  # the simulator's path: bullish/flat open→low→high→close
        if adverse_first:
            return self.exit_at(j, 1, "StopLoss", sl) if adv <= sl else self.exit_at(j, 2, "TakeProfit", tp)
        return self.exit_at(j, 1, "TakeProfit", tp) if fav >= tp else self.exit_at(j, 2, "StopLoss", sl)

    def exit_at(self, bar: int, point: int, kind: ExitKind, base: int) -> Exit:
        s = self.s
        base_real = s * base
        side = Side.SELL if s > 0 else Side.BUY
        base_d = base_real * self.tick
        fill = market_fill_price(side, self.qty, base_d, self.tick, self.book)
        return Exit(bar, point, kind, base_d, fill)

    def manage(self, last: int) -> None:
        """The live tick's stop walk (long space): ``tradebot.rules.stop_walk.next_stop`` on the position's plan."""
        if self.best < self.b_trig and self.best < self.t_trig:
            return
        got = next_stop(self.plan, sl=self.sl, best=self.best, last=last, breakeven_done=self.be_done, s=self.s)
        if got is not None:
            self.sl, self.reason, self.moves = got[0], got[1], self.moves + 1
            if got[1] == "breakeven":
                self.be_done = True


@functools.cache
def _kernel() -> ModuleType | None:
    try:
        from tradebot.backtest import kernel

        kernel.warm()
    except ImportError:  # numba is not installed: the Python walk gives the same exits
        return None
    except Exception as exc:  # numba installed but unusable here (say, no writable cache): same fallback, said
        log.warning("the compiled bar walk is unavailable (%s); the backtest uses the Python walk", exc)
        return None
    return kernel


def load_kernel() -> ModuleType | None:
    """The compiled bar walk (``tradebot.backtest.kernel``, imported and warmed once, like any import); None
    without numba."""
    return _kernel()
