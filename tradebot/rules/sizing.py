"""Sizing after fees in exact integers: the stop and target on the tick grid, the qty in qty steps, or why not.

Prices are integers in a unit of ``tick / plan.tick`` (the backtest's candles are whole ticks, ``plan.tick == 1``;
the live edge, ``tradebot.sizing.risk.size_position``, picks a decimal unit fine enough for its entry price) and
every other number an exact ratio (numerator, denominator > 0) as ``Decimal.as_integer_ratio`` gives it. What
depends only on the instrument, the risk settings and the fee rates is multiplied out once into a
:class:`SizePlan`; :func:`size` then does integer arithmetic only. A refusal comes back as a :class:`Refusal` code
(the Decimal edge words it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

Ratio = tuple[int, int]  # an exact number: (numerator, denominator > 0)


class Refusal(Enum):
    """Why no order should be sent, in the order the rule checks."""

    ENTRY = "entry price not above zero"
    ATR = "ATR not above zero"
    BALANCE = "no balance"
    FEE_RATE = "a fee rate outside 0-1"
    LEVERAGE = "leverage outside the instrument's range"
    STOP_AT_ZERO = "stop-loss at or below zero"
    TARGET_AT_ZERO = "take-profit at or below zero"
    LIQUIDATION = "liquidation before the stop"
    ACTIVATION = "trailing activation at or below zero"
    FEE_SHARE = "fees above max_fee_share of the risk"
    MIN_QTY = "qty below the minimum order qty"
    ORDER_RULE = "qty zero or order value below the minimum"


@dataclass(frozen=True, slots=True)
class SizePlan:
    """One instrument, risk settings and fee rates, multiplied out (see :meth:`build` for the fields' meaning)."""

    tick: int  # units per tick
    refusal: Refusal | None  # refused whatever the inputs (a fee rate, the leverage)
    sl_atr: Ratio  # × ATR: the stop distance in units
    tp_atr: Ratio
    trigger_atr: Ratio | None  # Bybit's trailing stop's activation distance (a short must keep it above zero)
    liq: Ratio  # entry × this = the isolated-margin liquidation estimate
    slip: Ratio
    fee: Ratio  # the exit's (the stop is a market fill)
    fee_in: Ratio  # the entry's
    share: Ratio  # max_fee_share
    budget: Ratio  # balance × this = USDT risked
    raw: Ratio  # budget / (loss per coin in units) × this = qty steps
    value: Ratio  # available / entry units × this = qty steps under max_position_pct
    margin: Ratio  # available / entry units × this = qty steps whose margin and both fees fit the balance
    max_steps: Ratio  # the max market qty in qty steps
    min_steps: int  # the min qty in qty steps, rounded up
    notional: Ratio  # steps × entry units × this[0] ≥ this[1]: the order value reaches the minimum

    @staticmethod
    def build(*, unit: Ratio, tick: Ratio, step: Ratio, min_qty: Ratio, max_mkt_qty: Ratio, min_notional: Ratio,
              leverage: Ratio, leverage_ok: bool, mmr: Ratio, sl_atr: Ratio, tp_atr: Ratio,
              trigger_atr: Ratio | None, risk_pct: Ratio, max_position_pct: Ratio, slippage_pct: Ratio,
              max_fee_share: Ratio, fee: Ratio, fee_in: Ratio, fee_tp: Ratio) -> SizePlan:
        """``unit``: a real price step that divides ``tick``; ``leverage_ok``: the leverage is within the
        instrument's; ``trigger_atr``: exchange trailing's trail_trigger_atr, None for the bot's trailing; the
        percents as the settings give them (0-100); ``fee_tp`` is only checked (the take-profit's fee is not in
        the size)."""
        (un, ud), (tn, td), (qn, qd) = unit, tick, step
        (ln, ld), (mn, md) = leverage, mmr
        (fn, fd), (rn, rd), (pn, pd) = fee, risk_pct, max_position_pct
        refusal = None
        if not all(0 <= n < d for n, d in (fee, fee_in, fee_tp)):
            refusal = Refusal.FEE_RATE
        elif not leverage_ok:
            refusal = Refusal.LEVERAGE
        k, rem = divmod(tn * ud, td * un)
        if rem or k <= 0:
            raise ValueError("the unit must divide the tick")

        def per_unit(r: Ratio) -> Ratio:  # a price (an ATR multiple) in units
            return r[0] * ud, r[1] * un

        mq_n, mq_d = min_qty
        return SizePlan(
            tick=k, refusal=refusal, sl_atr=per_unit(sl_atr), tp_atr=per_unit(tp_atr),
            trigger_atr=None if trigger_atr is None else per_unit(trigger_atr),
            liq=(ln * md - (ld * md - mn * ln), ln * md),  # 1 − (1/lev − mmr) for a long; a short mirrors it
            slip=(slippage_pct[0], slippage_pct[1] * 100), fee=fee, fee_in=fee_in, share=max_fee_share,
            budget=(rn, rd * 100), raw=(ud * qd, un * qn), value=(ln * pn * ud * qd, ld * pd * 100 * un * qn),
            margin=(ln * fd * ud * qd, (fd * ld + 2 * fn * ln) * un * qn),
            max_steps=(max_mkt_qty[0] * qd, max_mkt_qty[1] * qn),
            min_steps=-((-mq_n * qd) // (mq_d * qn)),
            notional=(qn * un * min_notional[1], min_notional[0] * qd * ud))


@dataclass(frozen=True, slots=True)
class Sized:
    """What :func:`size` decided. ``q``: qty steps (set when sized, and for ``MIN_QTY`` and ``ORDER_RULE``);
    ``sl``/``tp``/``liq``/``active``: real prices in units (0 until worked out). The exact numbers behind the
    Decimal figures and a refusal's words: ``fees``/``loss`` (the round trip's fees and the whole loss per coin,
    in units, over ``over``), ``budget`` (USDT), ``raw`` and ``cap`` (qty steps: the budget's and the smallest
    cap's, before rounding down)."""

    refusal: Refusal | None
    q: int = 0
    sl: int = 0
    tp: int = 0
    liq: int = 0
    active: int = 0
    fees: int = 0
    loss: int = 1
    over: int = 1
    budget: Ratio = (0, 1)
    raw: Ratio = (0, 1)
    cap: Ratio = (0, 1)

    @property
    def capped(self) -> bool:
        """The qty was limited by balance × leverage, max_position_pct or the max market qty."""
        return self.cap[0] * self.raw[1] < self.raw[0] * self.cap[1]

    @property
    def sized(self) -> Ratio:
        """The qty in steps before rounding down: the budget's, or the cap when it binds."""
        return self.cap if self.capped else self.raw


def _least(a: Ratio, b: Ratio) -> Ratio:
    return a if a[0] * b[1] <= b[0] * a[1] else b


def size(plan: SizePlan, *, s: int, entry: int, atr: Ratio, base: Ratio, available: Ratio) -> Sized:
    """Size an entry at ``entry`` (units) so that a stop-out loses at most the budget after fees.

    ``s``: +1 long, −1 short; ``base``: what ``risk_pct`` is a percentage of; ``available``: the balance the
    caps are measured against. With the stop ``sl`` (sl_atr×ATR from the entry, rounded to the tick toward the
    entry, at least one tick away), g the slippage and f, e the exit and entry fee rates, the loss per coin is
    L = d + sl·g + e·entry + f·sl·(1 − s·g) with d = max(sl_atr×ATR, |entry − sl|), and the qty is
    ⌊budget / L⌋ in qty steps, capped by available × leverage × max_position_pct, by the margin plus both
    fees fitting ``available`` and by the max market qty. The checks and their order are :class:`Refusal`'s."""
    an, ad = atr
    if entry <= 0:
        return Sized(Refusal.ENTRY)
    if an <= 0:
        return Sized(Refusal.ATR)
    if base[0] <= 0 or available[0] <= 0:
        return Sized(Refusal.BALANCE)
    if plan.refusal is not None:
        return Sized(plan.refusal)
    k, le = plan.tick, s * entry  # the entry in long space (a short's prices negated)
    yn, yd = plan.sl_atr[0] * an, plan.sl_atr[1] * ad  # sl_atr × ATR in units
    zn, zd = plan.tp_atr[0] * an, plan.tp_atr[1] * ad
    sl = -((yn - le * yd) // (yd * k)) * k  # rounded toward the entry: up in long space
    tp = (le * zd + zn) // (zd * k) * k  # toward the entry: down
    if le - sl < k:  # closer than a tick (a tiny ATR): a tick beyond the entry, rounded outward
        sl = (le - k) // k * k
    if tp - le < k:
        tp = -((-le - k) // k) * k
    sl_r, tp_r = s * sl, s * tp
    if sl_r <= 0:
        return Sized(Refusal.STOP_AT_ZERO, sl=sl_r, tp=tp_r)
    if tp_r <= 0:
        return Sized(Refusal.TARGET_AT_ZERO, sl=sl_r, tp=tp_r)
    fl_n, fl_d = plan.liq
    if s < 0:
        fl_n = 2 * fl_d - fl_n  # 1 + (1/lev − mmr)
    liq = (2 * entry * fl_n + k * fl_d) // (2 * k * fl_d) * k if fl_n > 0 else 0  # nearest tick, ties up
    if s * liq >= sl:
        return Sized(Refusal.LIQUIDATION, sl=sl_r, tp=tp_r, liq=liq)
    if s < 0 and plan.trigger_atr is not None:
        xn = entry * plan.trigger_atr[1] * ad - plan.trigger_atr[0] * an  # entry − trigger × ATR, over xd
        xd = plan.trigger_atr[1] * ad
        active = (2 * abs(xn) + k * xd) // (2 * k * xd) * k  # nearest tick, ties away from zero
        if xn < 0:
            active = -active
        if active <= 0:
            return Sized(Refusal.ACTIVATION, sl=sl_r, tp=tp_r, liq=liq, active=active)
    dn, dd = (yn, yd) if yn >= (le - sl) * yd else (le - sl, 1)
    (gn, gd), (fn, fd), (en, ed) = plan.slip, plan.fee, plan.fee_in
    den = gd * fd * ed
    over = dd * den
    fees = dd * (entry * en * gd * fd + sl_r * fn * (gd - s * gn) * ed)  # e·entry + f·exit, over dd·den
    loss = dn * den + dd * sl_r * gn * fd * ed + fees  # L, over dd·den
    budget = (base[0] * plan.budget[0], base[1] * plan.budget[1])
    raw = (budget[0] * plan.raw[0] * over, budget[1] * plan.raw[1] * loss)
    vn, vd = available
    cap = _least(_least((vn * plan.value[0], vd * plan.value[1] * entry),
                        (vn * plan.margin[0], vd * plan.margin[1] * entry)), plan.max_steps)
    if fees * plan.share[1] > plan.share[0] * loss:
        return Sized(Refusal.FEE_SHARE, 0, sl_r, tp_r, liq, 0, fees, loss, over, budget, raw, cap)
    q = min(raw[0] // raw[1], cap[0] // cap[1])
    if q < plan.min_steps:
        why: Refusal | None = Refusal.MIN_QTY
    elif q <= 0 or q * entry * plan.notional[0] < plan.notional[1]:
        why = Refusal.ORDER_RULE
    else:
        why = None
    return Sized(why, q, sl_r, tp_r, liq, 0, fees, loss, over, budget, raw, cap)
