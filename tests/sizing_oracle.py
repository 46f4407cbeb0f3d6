"""The reference oracle of tests/test_sizing_rule.py: tradebot/sizing/risk.py's Decimal ``size_position`` (and the
liquidation estimate it used) as it was before sizing moved to ``tradebot.rules.sizing``, kept verbatim so the
property keeps its meaning whatever the rule becomes."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal, localcontext

from tradebot.errors import OrderRuleError
from tradebot.money import ZERO
from tradebot.side import Side
from tradebot.sizing.instruments import (
    Instrument,
    as_decimal,
    check_order,
    format_decimal,
    round_price,
    round_qty,
    side_sign,
    stop_price,
    take_profit_price,
)
from tradebot.sizing.risk import DEFAULT_MMR, RiskParams, Sizing

HUNDRED = Decimal("100")


def reference_liquidation_price_estimate(
    side: Side, entry: Decimal, leverage: Decimal, mmr: Decimal = DEFAULT_MMR
) -> Decimal:
    """Isolated-margin liquidation price: entry × (1 ∓ 1/leverage ± mmr), no fees or tiers.

    Only the position's own margin stands behind it, so it is the nearest liquidation can ever be: sizing
    uses it as a sanity bound. What the chat shows is :func:`cross_liquidation_price` (the bot trades cross).
    """
    s = side_sign(side)
    entry, leverage, mmr = (
        as_decimal("entry", entry),
        as_decimal("leverage", leverage),
        as_decimal("mmr", mmr),
    )
    if entry <= 0 or leverage <= 0:
        raise ValueError(f"entry and leverage must be > 0, got {entry} and {leverage}")
    return max(ZERO, entry * (1 - s * (1 / leverage - mmr)))



def _approx(d: Decimal) -> str:
    """Eight significant digits, for messages."""
    with localcontext() as ctx:
        ctx.prec = 8
        return format_decimal(+d)


def _refuse(side: Side, entry: Decimal, reason: str, sl: Decimal = ZERO, tp: Decimal = ZERO) -> Sizing:
    return Sizing(side, entry, ZERO, ZERO, ZERO, ZERO, ZERO, sl, tp, ZERO, ZERO, reason)


def _reference_levels(
    s: int, side: Side, entry: Decimal, atr: Decimal, inst: Instrument, params: RiskParams
) -> tuple[Decimal, Decimal, str | None]:
    """(sl, tp, reason): tick-rounded levels at least one tick on the losing / winning side of entry."""
    tick = inst.tick_size
    sl = stop_price(entry - s * params.sl_atr * atr, inst, side)
    tp = take_profit_price(entry + s * params.tp_atr * atr, inst, side)
    if (
        s * (entry - sl) < tick
    ):  # stop closer than one tick (tiny ATR): one tick beyond entry, rounded outward
        sl = round_price(entry - s * tick, inst, "down" if s > 0 else "up")
    if s * (tp - entry) < tick:
        tp = round_price(entry + s * tick, inst, "up" if s > 0 else "down")
    if sl <= 0:
        return (
            sl,
            tp,
            f"stop-loss {format_decimal(sl)} would be at or below zero (ATR {format_decimal(atr)} too large)",
        )
    if tp <= 0:
        return (
            sl,
            tp,
            f"take-profit {format_decimal(tp)} would be at or below zero "
            f"(ATR {format_decimal(atr)} too large)",
        )
    return sl, tp, None


def reference_size_position(
    *,
    side: Side,
    entry_price: Decimal,
    atr: Decimal,
    available_balance: Decimal,
    inst: Instrument,
    params: RiskParams,
    wallet_equity: Decimal | None = None,
    fee_rate: Decimal | None = None,
    entry_fee_rate: Decimal | None = None,
    tp_fee_rate: Decimal | None = None,
) -> Sizing:
    """Size a market entry so that a stop-out loses at most ``risk_pct`` % of the balance AFTER fees.

    With s = +1 for a long and −1 for a short, f = the taker fee rate (``fee_rate``, read from the exchange's
    fee-rate endpoint, else ``params.taker_fee_rate``: the stop is a market fill), e = ``entry_fee_rate`` (the
    entry's fill: the maker rate for a PostOnly limit, else f) and g = slippage_pct/100 (the stop may fill that
    much worse than its trigger):

        exit price at the stop    x = sl × (1 − s·g)
        loss per coin             L = s·(entry − x) + e·entry + f·x     (price loss + entry fee + exit fee)
        qty                       = round_down_to_qty_step( base × risk_pct/100 / L ), then capped

    so ``risk_usdt`` = qty·L ≤ base × risk_pct/100, and when no cap binds it is within one qty_step·L of it.
    The risk base is ``wallet_equity`` when given, else ``available_balance`` (the engine passes the available
    balance). If the tick-rounded stop had to be pushed beyond sl_atr×ATR (ATR under one tick) the wider
    distance is used. The caps: notional ≤ available × leverage × max_position_pct/100, margin plus the
    round-trip taker fees within ``available_balance``, and the instrument's max market qty. Refused: below
    min qty / min notional, round-trip fees above ``max_fee_share`` of the risk, a liquidation estimate before
    the stop, and (exchange trailing, shorts) an activation price at or below zero.
    ``reward_risk`` is (s·(tp − entry) − e·entry − t·tp) / L: reward at the take-profit over the risk, both
    after fees (t = ``tp_fee_rate``: the maker rate for a limit take-profit, else f).
    """
    s = side_sign(side)
    entry = as_decimal("entry_price", entry_price)
    atr = as_decimal("atr", atr)
    available = as_decimal("available_balance", available_balance)
    base = available if wallet_equity is None else as_decimal("wallet_equity", wallet_equity)
    fee = params.taker_fee_rate if fee_rate is None else as_decimal("fee_rate", fee_rate)
    fee_in = fee if entry_fee_rate is None else as_decimal("entry_fee_rate", entry_fee_rate)
    fee_tp = fee if tp_fee_rate is None else as_decimal("tp_fee_rate", tp_fee_rate)
    fmt, sym = format_decimal, inst.symbol
    if entry <= 0:
        return _refuse(side, entry, f"entry price {fmt(entry)} must be greater than 0")
    if atr <= 0:
        return _refuse(
            side, entry, f"ATR is {fmt(atr)}: cannot place a stop-loss without volatility (need ATR > 0)"
        )
    if available <= 0 or base <= 0:
        return _refuse(side, entry, f"balance {fmt(min(available, base))} USDT leaves nothing to trade with")
    if not (ZERO <= fee < 1 and ZERO <= fee_in < 1 and ZERO <= fee_tp < 1):
        return _refuse(side, entry, f"fee rate {fmt(max(fee, fee_in, fee_tp))} is outside 0-1")
    if params.leverage > inst.max_leverage or params.leverage < inst.min_leverage:
        return _refuse(
            side,
            entry,
            f"leverage {fmt(params.leverage)} is outside {sym}'s allowed "
            f"{fmt(inst.min_leverage)}-{fmt(inst.max_leverage)}",
        )
    sl, tp, why = _reference_levels(s, side, entry, atr, inst, params)
    if why:
        return _refuse(side, entry, why, sl, tp)
    liq = round_price(reference_liquidation_price_estimate(side, entry, params.leverage), inst, "nearest")
    if s * (liq - sl) >= 0:
        return _refuse(
            side,
            entry,
            f"estimated liquidation {fmt(liq)} comes before the stop-loss {fmt(sl)} at "
            f"{fmt(params.leverage)}x leverage; lower the leverage or tighten sl_atr",
            sl,
            tp,
        )
    if params.trailing_mode == "exchange" and s < 0:
        active = round_price(entry - params.trail_trigger_atr * atr, inst, "nearest")
        if active <= 0:
            return _refuse(
                side,
                entry,
                f"the trailing stop's activation price {fmt(active)} would be at or below zero "
                f"(ATR {fmt(atr)} too large for trail_trigger_atr {fmt(params.trail_trigger_atr)})",
                sl,
                tp,
            )

    with localcontext() as ctx:  # round the sizing maths DOWN so the risk can only come out smaller
        ctx.prec, ctx.rounding = 50, ROUND_DOWN
        budget = base * params.risk_pct / HUNDRED
        stop_distance = max(params.sl_atr * atr, s * (entry - sl))
        ctx.rounding = ROUND_UP  # the loss per coin (exact in practice) may only come out larger
        exit_px = sl * (1 - s * params.slippage_pct / HUNDRED)
        fee_per_coin = fee_in * entry + fee * exit_px
        per_coin = stop_distance + s * (sl - exit_px) + fee_per_coin  # L (the stop distance may be wider)
        ctx.rounding = ROUND_DOWN
        raw_qty = budget / per_coin
        max_value = available * params.leverage * params.max_position_pct / HUNDRED
        max_value_by_margin = available * params.leverage / (1 + 2 * fee * params.leverage)
        cap_qty = min(min(max_value, max_value_by_margin) / entry, inst.max_mkt_qty)
    if fee_per_coin > params.max_fee_share * per_coin:
        return _refuse(
            side,
            entry,
            f"round-trip fees would take {(fee_per_coin / per_coin * HUNDRED).quantize(Decimal('0.1'))}% of the risk "
            f"(over max_fee_share {fmt(params.max_fee_share * HUNDRED)}%): the {fmt(s * (entry - sl))} stop is "
            "too tight for the fees; widen sl_atr or trade a longer interval",
            sl,
            tp,
        )
    sized = min(raw_qty, cap_qty)
    qty = round_qty(sized, inst, market=True)

    def context() -> str:  # only built for a refusal: sizing is on the backtest's hot path
        capped = ", capped by balance × leverage" if cap_qty < raw_qty else ""
        return f"risking {_approx(budget)} USDT over a {fmt(s * (entry - sl))} stop{capped}"

    if qty < inst.min_qty:
        return _refuse(
            side,
            entry,
            f"qty {_approx(sized)} is below {sym}'s minimum order qty {fmt(inst.min_qty)} ({context()})",
            sl,
            tp,
        )
    try:
        check_order(qty, entry, inst, market=True)
    except OrderRuleError as exc:
        return _refuse(side, entry, f"{exc} ({context()})", sl, tp)

    notional = qty * entry
    with localcontext() as ctx:
        ctx.prec = 50
        risk_usdt = qty * per_coin
        fees_usdt = qty * fee_per_coin
        reward = qty * (s * (tp - entry) - fee_in * entry - fee_tp * tp)
        risk_pct = risk_usdt / base * HUNDRED
        reward_risk = reward / risk_usdt
    return Sizing(
        side=side,
        entry_price=entry,
        qty=qty,
        notional=notional,
        margin=notional / params.leverage,
        risk_usdt=risk_usdt,
        risk_pct_of_balance=risk_pct,
        sl=sl,
        tp=tp,
        reward_risk=reward_risk,
        liq_price_estimate=liq,
        refused=None,
        fees_usdt=fees_usdt,
        fee_rate=fee,
        capped=cap_qty < raw_qty,
        entry_fee_rate=fee_in,
        risk_base="available balance" if wallet_equity is None else "equity",
    )
