"""Exact Decimal replay of one position: the simulator's stop/TP/trailing rules and the live stop management."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from proving.sim.book import BookParams, market_fill_price
from proving.sim.feed import candle_path
from tradebot.instruments import Instrument, stop_price
from tradebot.money import ZERO
from tradebot.risk import RiskParams
from tradebot.side import Side
from tradebot.states import ExitReason
from tradebot.stops import breakeven_price, exchange_trailing, next_stop, update_best

_MONEY = Decimal("1e-10")  # the journal's column scale: live management reads the ATR back at 10 dp
ExitKind = Literal["StopLoss", "TrailingStop", "TakeProfit", "EndOfData"]


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
        if not self.trail_dist or not self.trail_on:
            return None
        return self.trail_best - self.sign * self.trail_dist


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
             bar: int) -> OpenPosition:
        """Market entry at ``ref`` (the last price) with TP/SL attached, then the exchange trailing stop if used."""
        side = Side(side)  # also takes the wire string "Buy"/"Sell" (tests pass it)
        fill = market_fill_price(side, qty, ref, self.inst.tick_size, self.book)
        pos = OpenPosition(side, side.sign, qty, fill, qty * fill * self.taker, bar, atr, journal_atr(atr), sl, tp, sl,
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
        and the price it executes against: its level on a continuous move, ``b`` on a gap."""
        long = pos.sign > 0
        events: list[tuple[Decimal, int, ExitKind, Decimal]] = []
        if pos.sl and (b <= pos.sl if long else b >= pos.sl):
            events.append((abs(pos.sl - a), 0, "StopLoss", pos.sl))
        lvl = pos.trail_level()
        if lvl is not None and (b <= lvl if long else b >= lvl):
            events.append((abs(lvl - a), 1, "TrailingStop", lvl))
        if pos.tp and (b >= pos.tp if long else b <= pos.tp):
            events.append((abs(pos.tp - a), 2, "TakeProfit", pos.tp))
        if not events:
            return None
        _, _, kind, level = min(events, key=lambda e: (e[0], e[1]))
        base = level if continuous and min(a, b) <= level <= max(a, b) else b
        return kind, base

    @staticmethod
    def trail_update(pos: OpenPosition, price: Decimal) -> None:
        """After each segment: activate the exchange trailing stop at its active price, then track the best."""
        if not pos.trail_dist:
            return
        if not pos.trail_on and pos.sign * (price - pos.trail_active_price) >= 0:
            pos.trail_on, pos.trail_best = True, price
        if pos.trail_on:
            pos.trail_best = max(pos.trail_best, price) if pos.sign > 0 else min(pos.trail_best, price)

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
        be = stop_price(breakeven_price(pos.sign, pos.entry, pos.atr_mgmt, self.risk), self.inst, pos.side)
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
        """The live journal's reason (``close_reason`` in tradebot/positions.py), from the exit and the position's
        last stop move."""
        if kind == "TrailingStop":
            return ExitReason.TRAILING_STOP
        if kind == "TakeProfit":
            return ExitReason.TAKE_PROFIT
        if kind == "StopLoss":
            return ExitReason.of_stop(last_stop_reason)
        return "end_of_data"  # the backtest's own name (the data ended with the position open): no ExitReason
