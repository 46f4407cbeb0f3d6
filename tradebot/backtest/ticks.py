"""Exact integer replay: prices as integer ticks, quantities as integer qty steps, Decimal only at the edges."""

# Used by the bar loop (through tradebot.backtest.tickpath) when every candle price sits on the tick grid, with
# either trailing mode: the same rules as tradebot.backtest.position, with identical results (tests compare
# both). Sizing (tradebot.backtest.sizer) and the bot's trailing step have exact integer replicas of
# size_position and next_stop; each is cross-checked against the real function on the first calls of every run
# (and by hypothesis tests), and any doubtful case (a refusal, a rounding edge, a break-even move) calls the real
# function. Bybit's trailing stop follows the simulator's segment rules (Replayer.segment/trail_update) in
# integers (tradebot.backtest.bybit_trail); the bot-trailing walk runs compiled (tradebot.backtest.kernel) once a
# process has walked enough positions to pay for loading numba.

from __future__ import annotations

import functools
import logging
from decimal import Decimal
from types import ModuleType

import numpy as np

from proving.sim.book import BookParams, market_fill_price
from tradebot.backtest.bybit_trail import BybitTrail
from tradebot.backtest.position import Exit, ExitKind, journal_atr
from tradebot.instruments import Instrument, stop_price
from tradebot.risk import RiskParams
from tradebot.side import Side
from tradebot.stops import breakeven_price, next_stop

log = logging.getLogger(__name__)
CHECKS = 64  # replica results compared with the real function at the start of every run
_NEVER = 1 << 62
_PROBE = 128  # bars scanned in Python before a quiet stretch is searched with numpy


def _ratio(d: Decimal) -> tuple[int, int]:
    n, m = d.as_integer_ratio()
    return n, m


def trail_stop(s: int, best: int, sl: int, last: int, floor_d: int) -> int | None:
    """``next_stop``'s bot trailing step in long-space ticks (past the trigger, no break-even candidate): the
    stop ``floor(trail_atr×ATR)`` ticks behind the best price, clamped one tick inside the last price, if it
    tightens the current stop by at least one tick."""
    new = best - floor_d
    if last <= new:
        new = last - 1
    return None if s * new <= 0 or new - sl < 1 else new


class TickRunner:
    """Runs one position to its exit over integer-tick candles (long space: a short's prices are negated);
    Bybit's trailing stop walks in its :class:`BybitTrail`."""

    def __init__(self, cols: list[np.ndarray], inst: Instrument, risk: RiskParams, book: BookParams,
                 fee: Decimal) -> None:
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
        self.tn, self.td = _ratio(inst.tick_size)
        self.trig = _ratio(risk.trail_trigger_atr)
        self.trail = _ratio(risk.trail_atr)
        self.be_trig = _ratio(risk.breakeven_trigger_atr)
        self.bot = risk.trailing_mode == "bot"
        self.exchange = risk.trailing_mode == "exchange"
        self.checks = CHECKS  # trailing replica results still to compare with next_stop
        self.replica = True
        self.kernel = _loaded if self.bot and KERNEL else None  # loaded once it pays (see KERNEL_AFTER)
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

    def _ceil(self, k: tuple[int, int], an: int, ad: int) -> int:
        num, den = k[0] * an * self.td, k[1] * ad * self.tn
        return -((-num) // den)

    def run(self, s: int, qty: Decimal, entry: int, sl: int, tp: int, atr: Decimal, j0: int) -> Exit:
        """``entry``/``sl``/``tp`` in real ticks; the position enters at bar ``j0``'s open."""
        global _walked
        _walked += 1
        if self.bot and self.kernel is None and _walked > KERNEL_AFTER:
            self.kernel = load_kernel()
        self.s, self.qty = s, qty
        self.entry, self.sl, self.tp, self.best = s * entry, s * sl, s * tp, s * entry
        self.be_done, self.reason, self.moves = False, "", 0
        self.atr_mgmt = am = journal_atr(atr)
        thr = self.t_trig = self.b_trig = _NEVER
        self.be_level, self.floor_d = -_NEVER, 0
        if am > 0:
            an, ad = am.as_integer_ratio()
            self.floor_d = (self.trail[0] * an * self.td) // (self.trail[1] * ad * self.tn)
            self.t_trig = self.entry + self._ceil(self.trig, an, ad) if self.bot else _NEVER
            self.b_trig = self.entry + self._ceil(self.be_trig, an, ad)
            self.be_level = -_NEVER  # below any stop: break-even cannot tighten it
            if self.b_trig < self.tp:  # else unreachable: the take-profit closes the position first
                side = Side.BUY if s > 0 else Side.SELL
                be = stop_price(breakeven_price(s, entry * self.tick, am, self.risk), self.inst, side)
                self.be_level = s * int(be / self.tick)
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
        result still to be checked) are finished here with the real ``next_stop``."""
        k = self.kernel
        assert k is not None
        o, fav, adv = ko.item, kfav.item, kadv.item
        if adv(j0) <= self.sl or fav(j0) >= self.tp:
            return self._path(j0, fav(j0), adv(j0))
        j = j0 + 1
        while True:
            status, j, sl, best, moves = k.walk(ko, kfav, kadv, j, self.sl, self.tp, self.best, self.b_trig,
                                                self.be_level, self.be_done, self.t_trig, self.floor_d, s,
                                                self.replica and not self.checks)
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
        """The live tick's ``next_stop`` (long space): the integer trailing replica, else the real function."""
        s, sl = self.s, self.sl
        exc = self.best - self.entry
        if not self.replica or (not self.be_done and self.be_level - sl >= 1 and exc >= self.b_trig - self.entry):
            self._real(last)
            return
        if not self.bot or self.best < self.t_trig:
            return
        got = trail_stop(s, self.best, sl, last, self.floor_d)
        if self.checks:
            self.checks -= 1
            if self._real(last, apply=False) != got:  # the replica disagrees: the real function decides
                self.replica, self.checks = False, 0  # a bool: the kernel is compiled for a bool flag
                self._real(last)
                return
        if got is not None:
            self.sl, self.reason, self.moves = got, "trailing", self.moves + 1

    def _real(self, last: int, apply: bool = True) -> int | None:
        s, tick = self.s, self.tick
        side = Side.BUY if s > 0 else Side.SELL
        upd = next_stop(side=side, entry=s * self.entry * tick, current_sl=s * self.sl * tick,
                        best_price=s * self.best * tick, last_price=s * last * tick, atr=self.atr_mgmt,
                        inst=self.inst, params=self.risk, breakeven_done=self.be_done)
        if upd is None:
            return None
        new = s * int(upd.new_sl / tick)
        if apply:
            self.sl, self.reason, self.moves = new, upd.reason, self.moves + 1
            if upd.reason == "breakeven":
                self.be_done = True
        return new


KERNEL = True  # use the compiled walk when numba is installed
# Positions a process walks in Python before it loads the compiled walk: numba's import and the kernel's load
# cost ~0.4 s once per process and save ~10 µs per position, so a one-off backtest (even a year of 1m with
# thousands of trades) stays in Python and a long-lived process (optimize workers, the chat's /backtest, the
# benchmark, which preloads it) switches over.
KERNEL_AFTER = 50_000
_walked = 0
_loaded: ModuleType | None = None


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
    """Load the compiled bar walk (``tradebot.backtest.kernel``) for this process's bot-trailing backtests from
    now on; None without numba (or with ``KERNEL`` off)."""
    global _loaded
    if KERNEL and _loaded is None:
        _loaded = _kernel()
    return _loaded if KERNEL else None
