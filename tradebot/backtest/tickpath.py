"""The bar loop's fast branch: candles as integer ticks, then sizing, entry, the position's run
(:class:`tradebot.backtest.ticks.TickRunner`) and its Trade, all over integer ticks."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from tradebot.backtest.position import Exit, ExitKind, Replayer
from tradebot.backtest.ticks import CompiledWalk, TickRunner
from tradebot.market_model.book import BookParams
from tradebot.rules.sizing import SizePlan, size
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument
from tradebot.sizing.risk import RiskParams, size_plan, sizing_of


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
                 fee: Decimal, walks: CompiledWalk | None = None) -> None:
        self.inst, self.risk, self.fee = inst, risk, fee
        self.runner = TickRunner(cols, inst, risk, book, fee, walks)
        self.open = self.runner.cols[0].item
        self._plans: dict[Decimal | None, SizePlan] = {}  # the sizing rule's plan by entry fee (None: taker)
        self._names = Replayer(inst, risk, book, fee)
        self._reasons: dict[tuple[str, str], str] = {}

    def size(self, s: int, j: int, atr: Decimal, wallet: Decimal, limit: Decimal | None = None,
             entry_fee: Decimal | None = None) -> tuple[int, int, int] | str:
        """(qty steps, sl ticks, tp ticks) for a market entry at bar ``j``'s open, or a maker entry at ``limit``
        paying ``entry_fee``: the sizing rule (``tradebot.rules.sizing``) on ticks, with the exit at the risk
        settings' taker rate, as ``size_position`` sizes it; a refusal in ``size_position``'s words (``sizing_of``)."""
        fee = None if limit is None else entry_fee
        e = self.open(j) if limit is None else int(limit / self.inst.tick_size)
        plan = self._plans.get(fee)
        if plan is None:
            taker = self.risk.taker_fee_rate
            plan = self._plans[fee] = size_plan(self.inst, self.risk, taker, taker if fee is None else fee)
        w = wallet.as_integer_ratio()
        got = size(plan, s=s, entry=e, atr=atr.as_integer_ratio(), base=w, available=w)
        if got.refusal is None:
            return got.q, got.sl, got.tp
        taker, tick = self.risk.taker_fee_rate, self.inst.tick_size
        return sizing_of(got, 1, tick.as_integer_ratio(), side=Side.BUY if s > 0 else Side.SELL, entry=e * tick,
                         atr=atr, available=wallet, base=wallet, fee=taker, fee_in=taker if fee is None else fee,
                         fee_tp=taker, inst=self.inst, params=self.risk, on_equity=False).refused or "refused"

    def run(self, s: int, sized: tuple[int, int, int], atr: Decimal, j: int, limit: Decimal | None = None,
            tp_through: bool = False) -> tuple[Decimal, Decimal, Exit]:
        """Enter at bar ``j``'s open (or at ``limit``, a maker fill in bar ``j``) and run to the exit: (qty, entry
        fill price, exit). ``tp_through``: the take-profit is a limit, reached only a tick beyond its price."""
        q, sl, tp = sized
        qty = q * self.inst.qty_step
        r = self.runner
        if limit is None:
            entry = r.fill(Side.BUY if s > 0 else Side.SELL, qty, self.open(j))
        else:
            entry = int(limit / self.inst.tick_size)
        return qty, entry * self.inst.tick_size, r.run(s, qty, entry, sl, tp + s * tp_through, atr, j)

    def reason(self, kind: ExitKind) -> str:
        """The journal's close reason, named by the Decimal replay's own ``close_reason`` (cached per case)."""
        key = (kind, self.runner.reason)
        name = self._reasons.get(key)
        if name is None:
            name = self._names.close_reason(self.runner.reason, kind)
            self._reasons[key] = name
        return name
