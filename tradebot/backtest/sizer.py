"""``size_position`` on integer ticks and qty steps: the tick replay's sizing replica, and the real function."""

from __future__ import annotations

from decimal import Decimal

from tradebot.instruments import Instrument
from tradebot.risk import DEFAULT_MMR, RiskParams, size_position
from tradebot.side import Side


def _ratio(d: Decimal) -> tuple[int, int]:
    n, m = d.as_integer_ratio()
    return n, m


class FastSizer:
    """``size_position`` in integers for (side, entry ticks, ATR, wallet): (qty steps, sl ticks, tp ticks), or
    None when the real function must decide (refusals, liquidation or rounding edges).

    In ticks, with stop distance d = max(sl_atr×ATR, |entry − sl|), slippage g and taker fee f (the backtest
    sizes with ``risk.taker_fee_rate``, as ``size_position`` does without ``fee_rate``), the loss per coin is
    d + sl·g + f·(entry + sl·(1 − s·g)) and qty = floor(budget / loss / step), then capped."""

    def __init__(self, inst: Instrument, risk: RiskParams) -> None:
        self.inst, self.risk = inst, risk
        self.tn, self.td = _ratio(inst.tick_size)
        self.qn, self.qd = _ratio(inst.qty_step)
        self.sl = _ratio(risk.sl_atr)
        self.tp = _ratio(risk.tp_atr)
        self.rp = _ratio(risk.risk_pct)
        self.lev = _ratio(risk.leverage)
        self.mpp = _ratio(risk.max_position_pct)
        self.fee = _ratio(risk.taker_fee_rate)
        self.slip = _ratio(risk.slippage_pct / 100)
        self.share = _ratio(risk.max_fee_share)
        self.max_steps = int(inst.max_mkt_qty / inst.qty_step)
        self.min_qty, self.min_notional = inst.min_qty, inst.min_notional
        self.usable = inst.min_leverage <= risk.leverage <= inst.max_leverage and 0 <= risk.taker_fee_rate < 1
        self.exchange_trailing = risk.trailing_mode == "exchange"
        lev = float(risk.leverage)
        self.liq_factor = 1 / lev - float(DEFAULT_MMR)
        # the per-call formulas' constant factors, multiplied out once (exact integers)
        tn, td, qn, qd = self.tn, self.td, self.qn, self.qd
        (rn, rd), (ln, ld), (mn, md), (fn, fd) = self.rp, self.lev, self.mpp, self.fee
        self._y = (self.sl[0] * td, self.sl[1] * tn)  # × (an, ad): sl_atr×ATR in ticks
        self._z = (self.tp[0] * td, self.tp[1] * tn)
        self._gdfd = self.slip[1] * fd
        self._raw = (rn * td * qd, rd * 100 * tn * qn)  # q_raw = wallet×risk% / loss per coin, in steps
        self._value = (ln * mn * td * qd, ld * md * 100 * tn * qn)  # the max_position_pct cap
        self._margin = (ln * fd * td * qd, (fd * ld + 2 * fn * ln) * tn * qn)  # margin + both fees ≤ wallet
        # q steps ≥ min_qty and q×step × e×tick ≥ min_notional, in integers
        mq_n, mq_d = _ratio(inst.min_qty)
        self._min_steps = max(1, -((-mq_n * qd) // (mq_d * qn)))  # ceil(min_qty / step), at least one step
        nn, nd = _ratio(inst.min_notional)
        self._notional = (qn * tn * nd, nn * qd * td)

    def size(self, s: int, e: int, atr: Decimal, wallet: Decimal) -> tuple[int, int, int] | None:
        if not self.usable or atr <= 0 or wallet <= 0 or e <= 0 or (self.exchange_trailing and s < 0):
            return None
        an, ad = atr.as_integer_ratio()
        wn, wd = wallet.as_integer_ratio()
        y, z = self._y, self._z
        num_y, den_y = y[0] * an, y[1] * ad  # sl_atr×ATR in ticks
        fy = num_y // den_y
        if fy < 1:
            sl = e - s
            if num_y < den_y:
                num_y, den_y = 1, 1
        else:
            sl = e - s * fy
        fz = (z[0] * an) // (z[1] * ad)
        tp = e + s * (fz if fz >= 1 else 1)
        if sl <= 0 or tp <= 0 or s * (sl - e * (1 - s * self.liq_factor)) <= 2:
            return None
        gn, gd = self.slip
        fn, fd = self.fee
        fees = fn * ((e + sl) * gd - s * sl * gn)  # f·(entry + exit) × fd·gd, in ticks
        den = den_y * self._gdfd
        loss = num_y * self._gdfd + sl * gn * den_y * fd + fees * den_y  # loss per coin × den, in ticks
        if loss <= 0 or fees * den_y * self.share[1] > self.share[0] * loss:  # max_fee_share refuses
            return None
        q_raw = (wn * self._raw[0] * den) // (wd * self._raw[1] * loss)
        q_value = (wn * self._value[0]) // (wd * self._value[1] * e)
        num2, den2 = wn * self._margin[0], wd * self._margin[1] * e
        q_margin, rem = divmod(num2, den2)
        q = min(q_raw, q_value, q_margin, self.max_steps)
        if q == q_margin and rem * 10**30 < den2:  # an exact cap: Decimal's truncations may differ
            return None
        if q < self._min_steps or q * e * self._notional[0] < self._notional[1]:
            return None
        return q, sl, tp


def real_size(s: int, e: int, atr: Decimal, wallet: Decimal, inst: Instrument, risk: RiskParams
              ) -> tuple[int, int, int] | str:
    """``size_position`` itself, in ticks and steps; a refusal comes back as its message."""
    side = Side.BUY if s > 0 else Side.SELL
    sz = size_position(side=side, entry_price=e * inst.tick_size, atr=atr, available_balance=wallet, inst=inst,
                       params=risk)
    if not sz.ok:
        return sz.refused or "refused"
    return int(sz.qty / inst.qty_step), int(sz.sl / inst.tick_size), int(sz.tp / inst.tick_size)
