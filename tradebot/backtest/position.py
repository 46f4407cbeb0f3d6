"""Exact Decimal replay of one position: the simulator's stop/TP/trailing rules and the live stop management."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tradebot.care.stops import breakeven_stop, exchange_trailing, next_stop, update_best
from tradebot.market_model.book import BookParams, market_fill_price
from tradebot.market_model.feed import candle_path
from tradebot.money import ZERO
from tradebot.rules.bybit_trail import ExitKind as ExitKind
from tradebot.rules.bybit_trail import first_exit, trail_level, trail_update
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument
from tradebot.sizing.risk import RiskParams
from tradebot.states import ExitReason

_MONEY = Decimal("1e-10")  # the journal's column scale: live management reads the ATR back at 10 dp


def dec(x: float) -> Decimal:
    """A candle float as the exact decimal it was parsed from (shortest round-trip repr, like ``str``)."""
    return Decimal(repr(x))


def journal_atr(atr: Decimal) -> Decimal:
    """The ATR as the live journal stores it (10 dp, half up); next_stop reads this value back."""
    return atr.quantize(_MONEY, rounding=ROUND_HALF_UP)


@dataclass
class OpenPosition:
    """One position's full state: exchange side (SL/TP/trailing) and the bot's journal (best price, flags)."""

    side: Side
    sign: int
    qty: Decimal
    entry: Decimal  # average fill price
    open_fee: Decimal
    entry_bar: int
    atr: Decimal  # signal ATR (sizing, exchange trailing)
    atr_mgmt: Decimal  # journal ATR (break-even, bot trailing)
    sl: Decimal
    tp: Decimal
    initial_sl: Decimal
    best: Decimal  # the journal's best price (starts at the fill price, like the live journal)
    breakeven_done: bool = False
    last_stop_reason: str = ""
    stop_moves: int = 0
    trail_dist: Decimal = ZERO
    trail_active_price: Decimal = ZERO
    trail_on: bool = False
    trail_best: Decimal = ZERO

    def trail_level(self) -> Decimal | None:
        if not self.trail_dist:
            return None
        lvl = trail_level(self.trail_on, self.sign * self.trail_best, self.trail_dist)  # the rule, long space
        return None if lvl is None else self.sign * lvl


@dataclass(frozen=True)
class Exit:
    """Where and how a position closed: bar index, path point (0 = the gap to the open), fill price."""

    bar: int
    point: int
    kind: ExitKind
    base: Decimal  # last price the close order executed against (trigger level or gapped price)
    price: Decimal  # fill price after book slippage


class Replayer:
    """Applies the simulator's matching rules and the live bot's management to an :class:`OpenPosition`."""

    def __init__(self, inst: Instrument, risk: RiskParams, book: BookParams, taker_fee: Decimal) -> None:
        self.inst, self.risk, self.book, self.taker = inst, risk, book, taker_fee

    def open(self, *, side: Side, qty: Decimal, ref: Decimal, atr: Decimal, sl: Decimal, tp: Decimal,
             bar: int, limit: Decimal | None = None, limit_fee: Decimal = ZERO) -> OpenPosition:
        """Market entry at ``ref`` (the last price) with TP/SL attached (or a maker fill at ``limit``, paying
        ``limit_fee``), then the exchange trailing stop if used (it starts from ``ref``)."""
        side = Side(side)  # also takes the wire string "Buy"/"Sell" (tests pass it)
        fill = market_fill_price(side, qty, ref, self.inst.tick_size, self.book) if limit is None else limit
        rate = self.taker if limit is None else limit_fee
        pos = OpenPosition(side, side.sign, qty, fill, qty * fill * rate, bar, atr, journal_atr(atr), sl, tp, sl,
                           best=fill)
        if self.risk.trailing_mode == "exchange" and atr > 0:
            spec = exchange_trailing(side=side, entry=fill, atr=atr, inst=self.inst, params=self.risk)
            pos.trail_dist, pos.trail_active_price, pos.trail_best = spec.distance, spec.active_price, ref
            pos.trail_on = side.sign * (ref - spec.active_price) >= 0  # simulator: active at once if already past it
        return pos

    # -- the simulator's price path ----------------------------------------------------------------
    @staticmethod
    def segment(pos: OpenPosition, a: Decimal, b: Decimal, continuous: bool) -> tuple[ExitKind, Decimal] | None:
        """The first stop/TP a monotone move ``a``→``b`` crosses (by distance from ``a``; ties SL, trailing, TP)
        and the price it executes against: its level on a continuous move, ``b`` on a gap
        (``tradebot.rules.bybit_trail.first_exit`` in long space)."""
        s = pos.sign
        lvl = pos.trail_level()
        hit = first_exit(s * a, s * b, s * pos.sl if pos.sl else None, None if lvl is None else s * lvl,
                         s * pos.tp if pos.tp else None, continuous)
        return None if hit is None else (hit[0], s * hit[1])

    @staticmethod
    def trail_update(pos: OpenPosition, price: Decimal) -> None:
        """After each segment: activate the exchange trailing stop at its active price, then track the best
        (``tradebot.rules.bybit_trail.trail_update`` in long space)."""
        if not pos.trail_dist:
            return
        s = pos.sign
        pos.trail_on, best = trail_update(pos.trail_on, s * pos.trail_best, s * pos.trail_active_price, s * price)
        pos.trail_best = s * best

    def exit_at(self, pos: OpenPosition, bar: int, point: int, kind: ExitKind, base: Decimal) -> Exit:
        fill = market_fill_price(pos.side.opposite, pos.qty, base, self.inst.tick_size, self.book)
        return Exit(bar, point, kind, base, fill)

    # -- the live bot's tick -------------------------------------------------------------------------
    def manage(self, pos: OpenPosition, prev_extreme: Decimal, last: Decimal) -> None:
        """Tick management: best ← (previous bar's high/low, last price); ``next_stop`` may tighten the SL."""
        for p in (prev_extreme, last):
            pos.best = update_best(pos.side, pos.best, p)
        if pos.atr_mgmt <= 0:
            return
        upd = next_stop(side=pos.side, entry=pos.entry, current_sl=pos.sl, best_price=pos.best, last_price=last,
                        atr=pos.atr_mgmt, inst=self.inst, params=self.risk, breakeven_done=pos.breakeven_done)
        if upd is None:
            return
        pos.sl, pos.last_stop_reason, pos.stop_moves = upd.new_sl, upd.reason, pos.stop_moves + 1
        if upd.reason == "breakeven":
            pos.breakeven_done = True

    def breakeven_possible(self, pos: OpenPosition) -> bool:
        """False once a break-even move could no longer tighten the stop (so the scan can ignore it)."""
        if pos.breakeven_done:
            return False
        be = breakeven_stop(pos.sign, pos.entry, pos.atr_mgmt, self.inst, self.risk)
        return pos.sign * (be - pos.sl) >= self.inst.tick_size

    # -- one bar, exactly ----------------------------------------------------------------------------
    def gap(self, pos: OpenPosition, j: int, prev_close: Decimal, o: Decimal) -> Exit | None:
        """The jump from the previous close to bar ``j``'s open: a crossed stop fills at the gapped open."""
        hit = self.segment(pos, prev_close, o, continuous=False)
        if hit is not None:
            return self.exit_at(pos, j, 0, *hit)
        self.trail_update(pos, o)
        return None

    def walk_path(self, pos: OpenPosition, j: int, o: Decimal, h: Decimal, lo: Decimal, c: Decimal) -> Exit | None:
        """Bar ``j``'s path from its open: open→low→high→close (bullish/flat) or open→high→low→close (bearish)."""
        path = candle_path(o, h, lo, c)
        for point in (1, 2, 3):
            hit = self.segment(pos, path[point - 1], path[point], continuous=True)
            if hit is not None:
                return self.exit_at(pos, j, point, *hit)
            self.trail_update(pos, path[point])
        return None

    def walk_bar(self, pos: OpenPosition, j: int, o: Decimal, h: Decimal, lo: Decimal, c: Decimal,
                 prev_close: Decimal | None, prev_extreme: Decimal | None) -> Exit | None:
        """Bar ``j`` in full: the gap from the previous close (unless it is the entry bar), the tick at the open
        (stop management with the previous bar's high/low), then the candle path."""
        if prev_close is not None:
            ex = self.gap(pos, j, prev_close, o)
            if ex is not None:
                return ex
            assert prev_extreme is not None
            self.manage(pos, prev_extreme, o)
        return self.walk_path(pos, j, o, h, lo, c)

    def close_reason(self, last_stop_reason: str, kind: ExitKind) -> str:
        """The live journal's reason (``close_reason`` in tradebot/care/closes.py), from the exit and the position's
        last stop move."""
        if kind == "TrailingStop":
            return ExitReason.TRAILING_STOP
        if kind == "TakeProfit":
            return ExitReason.TAKE_PROFIT
        if kind == "StopLoss":
            return ExitReason.of_stop(last_stop_reason)
        return "end_of_data"  # the backtest's own name (the data ended with the position open): no ExitReason
