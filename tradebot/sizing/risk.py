"""Risk parameters, the liquidation estimates, and position sizing's Decimal edge (the rule: ``tradebot.rules.sizing``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal, localcontext
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradebot.errors import OrderRuleError
from tradebot.money import ZERO
from tradebot.rules.sizing import Refusal, Sized, SizePlan, size
from tradebot.side import Side
from tradebot.sizing.instruments import (
    Instrument,
    as_decimal,
    check_order,
    format_decimal,
    side_sign,
)

if TYPE_CHECKING:
    from tradebot.bybit.account_models import Position

HUNDRED = Decimal("100")
DEFAULT_MMR = Decimal("0.005")


class RiskParams(BaseModel):
    """Per-trade risk, stop placement, leverage and account protections (all percents are 0-100)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    risk_pct: Decimal = Field(
        Decimal("1.0"),
        gt=0,
        le=10,
        description="% of the available balance a stop-out loses, AFTER entry and exit fees and slippage allowance",
    )
    sl_atr: Decimal = Field(Decimal("2.0"), gt=0, le=50, description="stop-loss distance in ATRs")
    tp_atr: Decimal = Field(Decimal("4.0"), gt=0, le=100, description="take-profit distance in ATRs")
    breakeven_trigger_atr: Decimal = Field(
        Decimal("1.0"), gt=0, le=100, description="favourable move in ATRs that moves the SL to break-even"
    )
    breakeven_offset_atr: Decimal = Field(
        Decimal("0.1"), ge=0, le=10, description="break-even SL = entry ± this many ATRs (covers fees)"
    )
    trail_trigger_atr: Decimal = Field(
        Decimal("1.5"), gt=0, le=100, description="favourable move that starts trailing"
    )
    trail_atr: Decimal = Field(Decimal("1.0"), gt=0, le=50, description="trailing distance in ATRs")
    trailing_mode: Literal["exchange", "bot"] = Field(
        "exchange", description="'exchange' = Bybit trailingStop; 'bot' = the bot moves the SL"
    )
    leverage: Decimal = Field(Decimal("5"), ge=1, le=100, description="leverage set on the symbol")
    max_open_positions: int = Field(3, ge=1, le=100, description="max simultaneously open positions")
    max_position_pct: Decimal = Field(
        Decimal("100"), gt=0, le=100, description="cap on notional as % of available balance × leverage"
    )
    daily_loss_limit_pct: Decimal = Field(
        Decimal("5"),
        gt=0,
        le=100,
        description="pause entries for the UTC day after losing this % of the day's start",
    )
    cooldown_minutes: int = Field(
        30, ge=0, le=10080, description="no new entry on a symbol this long after a loss"
    )
    max_consecutive_losses: int = Field(
        4, ge=0, le=1000, description="pause after this many losses in a row; 0 = off"
    )
    maker_fee_rate: Decimal = Field(
        Decimal("0.0002"), ge=0, lt=Decimal("0.01"), description="for estimates only"
    )
    taker_fee_rate: Decimal = Field(
        Decimal("0.00055"),
        ge=0,
        lt=Decimal("0.01"),
        description="taker fee rate for sizing and break-even when the exchange's fee-rate endpoint cannot be read",
    )
    slippage_pct: Decimal = Field(
        Decimal("0.02"), ge=0, lt=5, description="% of the stop price a stop-out may fill worse (sizing allowance)"
    )
    max_fee_share: Decimal = Field(
        Decimal("0.25"),
        gt=0,
        le=1,
        description="refuse trades whose round-trip fees at the stop exceed this share of the risk (1 = off)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RiskParams:
        if self.breakeven_offset_atr >= self.breakeven_trigger_atr:
            raise ValueError(
                f"breakeven_offset_atr ({self.breakeven_offset_atr}) must be below breakeven_trigger_atr "
                f"({self.breakeven_trigger_atr}), or the break-even stop would sit beyond the price "
                "that triggers it"
            )
        if self.trailing_mode == "exchange" and self.trail_trigger_atr > self.tp_atr:
            raise ValueError(
                f"trail_trigger_atr ({self.trail_trigger_atr}) must not exceed tp_atr ({self.tp_atr}) with "
                "trailing_mode 'exchange': Bybit's trailing stop would activate only beyond the take-profit, where "
                "it never acts (and for a short it can land at or below zero, which Bybit rejects)"
            )
        return self


@dataclass(frozen=True)
class Sizing:
    """Result of size_position. ``refused`` says why no order should be sent (then qty = 0)."""

    side: Side
    entry_price: Decimal
    qty: Decimal
    notional: Decimal
    margin: Decimal
    risk_usdt: Decimal  # loss at SL AFTER taker fees on entry and exit and the slippage allowance
    risk_pct_of_balance: Decimal  # risk_usdt as % of the risk base (wallet_equity, else available balance)
    sl: Decimal
    tp: Decimal
    reward_risk: Decimal  # net reward at TP / risk_usdt, both after fees
    liq_price_estimate: Decimal
    refused: str | None = None
    fees_usdt: Decimal = ZERO  # round-trip fees if the stop is hit (entry + taker exit at the slipped stop)
    fee_rate: Decimal = ZERO  # the taker rate used (the stop)
    capped: bool = False  # the qty was limited by balance × leverage, max_position_pct or the max order qty
    risk_base: str = "available balance"  # what risk_pct is a percentage of
    entry_fee_rate: Decimal = ZERO  # the entry fill's rate used: maker for a PostOnly limit, else the taker rate

    @property
    def ok(self) -> bool:
        return self.refused is None


def liquidation_price_estimate(
    side: Side, entry: Decimal, leverage: Decimal, mmr: Decimal = DEFAULT_MMR
) -> Decimal:
    """Isolated-margin liquidation price: entry × (1 ∓ 1/leverage ± mmr), no fees or tiers.

    Only the position's own margin stands behind it, so it is the nearest liquidation can ever be: sizing
    uses it as a sanity bound (``tradebot.rules.sizing`` works it out exactly, rounded to the nearest tick).
    What the chat shows is :func:`cross_liquidation_price` (the bot trades cross).
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


def cross_liquidation_price(
    side: Side,
    price: Decimal,
    qty: Decimal,
    equity: Decimal,
    *,
    other_maintenance: Decimal = ZERO,
    mmr: Decimal = DEFAULT_MMR,
    fee_rate: Decimal = ZERO,
) -> Decimal | None:
    """ESTIMATE of a cross-margin liquidation price (the bot trades cross margin on a UNIFIED account).

    The account is liquidated when its equity falls to the maintenance margin (Bybit: account MM rate
    reaches 100%). With ``equity`` measured at ``price`` and the position's maintenance margin at P being
    (mmr + fee_rate) × qty × P (the chat passes no fee, as the simulator's liqPrice does), equity moves by
    ±qty × (P − price):
    long  P = (price − (equity − other)/qty) / (1 − mmr − fee_rate)
    short P = (price + (equity − other)/qty) / (1 + mmr + fee_rate)
    ``other_maintenance``: the maintenance margin of the account's other positions (their prices held).
    None when no positive price liquidates it (the wallet covers a fall to zero). Risk tiers are ignored.
    """
    s = side_sign(side)
    price, qty, equity = as_decimal("price", price), as_decimal("qty", qty), as_decimal("equity", equity)
    if price <= 0 or qty <= 0:
        raise ValueError(f"price and qty must be > 0, got {price} and {qty}")
    cushion = (equity - as_decimal("other_maintenance", other_maintenance)) / qty
    rate = as_decimal("mmr", mmr) + as_decimal("fee_rate", fee_rate)
    liq = (price - cushion) / (1 - rate) if s > 0 else (price + cushion) / (1 + rate)
    return liq if liq > 0 else None


def maintenance_margin(positions: Iterable[Position], mmr: Decimal = DEFAULT_MMR) -> Decimal:
    """Σ mmr × size × mark over open positions: what the account must keep (risk tiers ignored)."""
    return sum((mmr * p.size * (p.mark_price or p.avg_price) for p in positions if p.is_open), ZERO)


def _approx(d: Decimal) -> str:
    """Eight significant digits, for messages."""
    with localcontext() as ctx:
        ctx.prec = 8
        return format_decimal(+d)


def _refuse(side: Side, entry: Decimal, reason: str, sl: Decimal = ZERO, tp: Decimal = ZERO) -> Sizing:
    return Sizing(side, entry, ZERO, ZERO, ZERO, ZERO, ZERO, sl, tp, ZERO, ZERO, reason)


def size_plan(inst: Instrument, params: RiskParams, fee: Decimal, fee_in: Decimal, fee_tp: Decimal | None = None,
              places: int | None = None) -> SizePlan:
    """The sizing rule's plan (``tradebot.rules.sizing``) for ``inst`` and ``params`` at these fee rates (exit,
    entry, take-profit), prices in units of 10**-``places`` (None: in ticks, as the backtest's candles are)."""
    r = Decimal.as_integer_ratio
    return SizePlan.build(
        unit=r(inst.tick_size) if places is None else (1, 10**places), tick=r(inst.tick_size),
        step=r(inst.qty_step), min_qty=r(inst.min_qty), max_mkt_qty=r(inst.max_mkt_qty),
        min_notional=r(inst.min_notional), leverage=r(params.leverage),
        leverage_ok=inst.min_leverage <= params.leverage <= inst.max_leverage, mmr=r(DEFAULT_MMR),
        sl_atr=r(params.sl_atr), tp_atr=r(params.tp_atr),
        trigger_atr=r(params.trail_trigger_atr) if params.trailing_mode == "exchange" else None,
        risk_pct=r(params.risk_pct), max_position_pct=r(params.max_position_pct),
        slippage_pct=r(params.slippage_pct), max_fee_share=r(params.max_fee_share), fee=r(fee), fee_in=r(fee_in),
        fee_tp=r(fee if fee_tp is None else fee_tp))


def _exactly(n: int, d: int, rounding: str) -> Decimal:
    """n / d as a Decimal, to 50 digits (exact for every number sizing meets), rounded ``rounding`` beyond."""
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 50, rounding
        return Decimal(n) / Decimal(d)


def size_position(
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
    The rule is :func:`tradebot.rules.sizing.size` (exact integers, shared with the backtest); this is its
    Decimal edge, which also words its refusals.
    """
    s = side_sign(side)
    entry = as_decimal("entry_price", entry_price)
    atr = as_decimal("atr", atr)
    available = as_decimal("available_balance", available_balance)
    base = available if wallet_equity is None else as_decimal("wallet_equity", wallet_equity)
    fee = params.taker_fee_rate if fee_rate is None else as_decimal("fee_rate", fee_rate)
    fee_in = fee if entry_fee_rate is None else as_decimal("entry_fee_rate", entry_fee_rate)
    fee_tp = fee if tp_fee_rate is None else as_decimal("tp_fee_rate", tp_fee_rate)
    tick = inst.tick_size
    places = max(0, -int(entry.as_tuple().exponent), -int(tick.as_tuple().exponent))
    en, ed = entry.as_integer_ratio()
    plan = size_plan(inst, params, fee, fee_in, fee_tp, places)
    got = size(plan, s=s, entry=en * 10**places // ed, atr=atr.as_integer_ratio(), base=base.as_integer_ratio(),
               available=available.as_integer_ratio())
    return sizing_of(got, plan.tick, (1, 10**places), side=side, entry=entry, atr=atr, available=available,
                     base=base, fee=fee, fee_in=fee_in, fee_tp=fee_tp, inst=inst, params=params,
                     on_equity=wallet_equity is not None)


def sizing_of(got: Sized, k: int, unit: tuple[int, int], *, side: Side, entry: Decimal, atr: Decimal,
              available: Decimal, base: Decimal, fee: Decimal, fee_in: Decimal, fee_tp: Decimal, inst: Instrument,
              params: RiskParams, on_equity: bool) -> Sizing:
    """The rule's answer ``got`` (prices in units of ``unit``, ``k`` units per tick) as a :class:`Sizing`, a
    refusal worded, for what :func:`size_position` was asked (the backtest's tick replay words its refusals
    here too)."""
    s = side_sign(side)
    tick = inst.tick_size
    sl, tp = Decimal(got.sl // k) * tick, Decimal(got.tp // k) * tick
    fmt, sym, why = format_decimal, inst.symbol, got.refusal
    if why is Refusal.ENTRY:
        return _refuse(side, entry, f"entry price {fmt(entry)} must be greater than 0")
    if why is Refusal.ATR:
        return _refuse(
            side, entry, f"ATR is {fmt(atr)}: cannot place a stop-loss without volatility (need ATR > 0)"
        )
    if why is Refusal.BALANCE:
        return _refuse(side, entry, f"balance {fmt(min(available, base))} USDT leaves nothing to trade with")
    if why is Refusal.FEE_RATE:
        return _refuse(side, entry, f"fee rate {fmt(max(fee, fee_in, fee_tp))} is outside 0-1")
    if why is Refusal.LEVERAGE:
        return _refuse(
            side,
            entry,
            f"leverage {fmt(params.leverage)} is outside {sym}'s allowed "
            f"{fmt(inst.min_leverage)}-{fmt(inst.max_leverage)}",
        )
    if why is Refusal.STOP_AT_ZERO:
        text = f"stop-loss {fmt(sl)} would be at or below zero (ATR {fmt(atr)} too large)"
        return _refuse(side, entry, text, sl, tp)
    if why is Refusal.TARGET_AT_ZERO:
        text = f"take-profit {fmt(tp)} would be at or below zero (ATR {fmt(atr)} too large)"
        return _refuse(side, entry, text, sl, tp)
    liq = Decimal(got.liq // k) * tick
    if why is Refusal.LIQUIDATION:
        return _refuse(
            side,
            entry,
            f"estimated liquidation {fmt(liq)} comes before the stop-loss {fmt(sl)} at "
            f"{fmt(params.leverage)}x leverage; lower the leverage or tighten sl_atr",
            sl,
            tp,
        )
    if why is Refusal.ACTIVATION:
        return _refuse(
            side,
            entry,
            f"the trailing stop's activation price {fmt(Decimal(got.active // k) * tick)} would be at or below "
            f"zero (ATR {fmt(atr)} too large for trail_trigger_atr {fmt(params.trail_trigger_atr)})",
            sl,
            tp,
        )
    if why is Refusal.FEE_SHARE:
        return _refuse(
            side,
            entry,
            f"round-trip fees would take {(Decimal(got.fees) / Decimal(got.loss) * HUNDRED).quantize(Decimal('0.1'))}% "
            f"of the risk (over max_fee_share {fmt(params.max_fee_share * HUNDRED)}%): the {fmt(s * (entry - sl))} "
            "stop is too tight for the fees; widen sl_atr or trade a longer interval",
            sl,
            tp,
        )
    qty = Decimal(got.q) * inst.qty_step
    if why is not None:  # MIN_QTY or ORDER_RULE: words with the numbers sized
        capped = ", capped by balance × leverage" if got.capped else ""
        context = (f"risking {_approx(_exactly(*got.budget, ROUND_DOWN))} USDT over a {fmt(s * (entry - sl))} "
                   f"stop{capped}")
        if why is Refusal.MIN_QTY:
            sized = _exactly(got.sized[0] * inst.qty_step.as_integer_ratio()[0],
                             got.sized[1] * inst.qty_step.as_integer_ratio()[1], ROUND_DOWN)
            text = f"qty {_approx(sized)} is below {sym}'s minimum order qty {fmt(inst.min_qty)} ({context})"
            return _refuse(side, entry, text, sl, tp)
        try:
            check_order(qty, entry, inst, market=True)
        except OrderRuleError as exc:
            return _refuse(side, entry, f"{exc} ({context})", sl, tp)
        raise AssertionError(f"the sizing rule refused {qty} {sym} at {entry} that check_order accepts")

    un, ud = unit  # the loss and fees per coin, in USDT: over got.over units
    per_coin = _exactly(got.loss * un, got.over * ud, ROUND_UP)
    fee_per_coin = _exactly(got.fees * un, got.over * ud, ROUND_UP)
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
        capped=got.capped,
        entry_fee_rate=fee_in,
        risk_base="equity" if on_equity else "available balance",
    )
