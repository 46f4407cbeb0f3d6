"""The bar loop's fast branch: candles as integer ticks, then sizing, entry, the position's run
(:class:`tradebot.backtest.ticks.TickRunner`) and its Trade, all over integer ticks."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from proving.sim.book import BookParams
from tradebot.backtest.position import Exit, ExitKind, Replayer
from tradebot.backtest.sizer import FastSizer, real_size
from tradebot.backtest.ticks import CHECKS, TickRunner
from tradebot.instruments import Instrument
from tradebot.risk import RiskParams
from tradebot.side import Side


def tick_columns(arr: list[np.ndarray], tick: Decimal) -> list[np.ndarray] | None:
    """open/high/low/close as integer ticks, or None unless every price is exactly ``k × tick`` (as parsed)."""
    inv = 1 / tick
    if inv != inv.to_integral_value() or inv > 10**9:
        return None
    n = int(inv)
    out = []
    for a in arr:
        if not np.all(np.isfinite(a)) or a.size and float(np.max(np.abs(a))) * n > 2**52:
            return None
        t = np.rint(a * n)
        if not np.array_equal(t / n, a):  # t/n is the float nearest the decimal t×tick, i.e. what parsed it
            return None
        out.append(t.astype(np.int64))
    return out


def usable(risk: RiskParams) -> bool:
    """The integer replay covers both trailing modes: the bot's own trailing and Bybit's trailing stop."""
    return risk.trailing_mode in ("bot", "exchange")


class TickPath:
    """Sizing, entry, the position's run and its Trade, all over integer ticks (the bar loop's fast branch)."""

    def __init__(self, cols: list[np.ndarray], inst: Instrument, risk: RiskParams, book: BookParams,
                 fee: Decimal) -> None:
        self.inst, self.risk, self.fee = inst, risk, fee
        self.sizer = FastSizer(inst, risk)
        self.runner = TickRunner(cols, inst, risk, book, fee)
        self.open = self.runner.cols[0].item
        self.checks = CHECKS  # sizing replica results still to compare with size_position
        self._names = Replayer(inst, risk, book, fee)
        self._reasons: dict[tuple[str, str], str] = {}

    def size(self, s: int, j: int, atr: Decimal, wallet: Decimal) -> tuple[int, int, int] | str:
        """(qty steps, sl ticks, tp ticks) for an entry at bar ``j``'s open, or size_position's refusal."""
        e = self.open(j)
        got = self.sizer.size(s, e, atr, wallet) if self.sizer.usable else None
        if got is not None and self.checks:
            self.checks -= 1
            if real_size(s, e, atr, wallet, self.inst, self.risk) != got:
                self.sizer.usable, self.checks, got = False, 0, None  # the replica disagrees: stop using it
        return got if got is not None else real_size(s, e, atr, wallet, self.inst, self.risk)

    def run(self, s: int, sized: tuple[int, int, int], atr: Decimal, j: int) -> tuple[Decimal, Decimal, Exit]:
        """Enter at bar ``j``'s open and run to the exit: (qty, entry fill price, exit)."""
        q, sl, tp = sized
        qty = q * self.inst.qty_step
        r = self.runner
        entry = r.fill(Side.BUY if s > 0 else Side.SELL, qty, self.open(j))
        return qty, entry * self.inst.tick_size, r.run(s, qty, entry, sl, tp, atr, j)

    def reason(self, kind: ExitKind) -> str:
        """The journal's close reason, named by the Decimal replay's own ``close_reason`` (cached per case)."""
        key = (kind, self.runner.reason)
        name = self._reasons.get(key)
        if name is None:
            name = self._names.close_reason(self.runner.reason, kind)
            self._reasons[key] = name
        return name
