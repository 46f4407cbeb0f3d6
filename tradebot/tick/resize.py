"""Re-sizing an approved card at the tap (pure): the card's promise is its risk, so the entry sent is sized again
from the price, balance and risk % of the moment the person tapped, and never risks more than the card said."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext

from tradebot.money import ZERO
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument, round_qty
from tradebot.sizing.risk import RiskParams, Sizing, size_position
from tradebot.text import num

HALF_CENT = Decimal("0.005")


@dataclass(frozen=True)
class TapSizing:
    """What an approval sends: qty and levels, the loss at the stop after fees, and what changed since the card."""

    qty: Decimal
    sl: Decimal
    tp: Decimal
    risk_usdt: Decimal
    refused: str | None = None
    changed: str | None = None  # "0.839 → 0.612: …" when the qty differs from the card's

    @property
    def ok(self) -> bool:
        return self.refused is None


def size_at_tap(*, side: Side, card_qty: Decimal, card_price: Decimal, card_risk: Decimal | None,
                last: Decimal, atr: Decimal, available: Decimal, inst: Instrument, params: RiskParams,
                fee_rate: Decimal, entry_fee_rate: Decimal | None = None,
                tp_fee_rate: Decimal | None = None) -> TapSizing:
    """Size the entry the way the card was sized (stop sl_atr × ATR from the entry, loss at the stop after the
    entry's fee (``entry_fee_rate``: maker for a maker-first entry), a taker stop and the slippage allowance =
    risk_pct of the available balance), from the price ``last`` and the balance ``available`` read at the tap
    with the risk % in force now; then cap the qty so that loss is no more than the card's (``card_risk``) and
    the qty no more than the card's. Each cap rounds down to the qtyStep."""
    fresh: Sizing = size_position(side=side, entry_price=last, atr=atr, available_balance=available, inst=inst,
                                  params=params, fee_rate=fee_rate, entry_fee_rate=entry_fee_rate,
                                  tp_fee_rate=tp_fee_rate)
    if not fresh.ok:
        return TapSizing(ZERO, fresh.sl, fresh.tp, ZERO, refused=fresh.refused)
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 50, ROUND_DOWN
        per_coin = fresh.risk_usdt / fresh.qty  # L of size_position: the loss per coin at the stop, after fees
        qty = fresh.qty
        if card_risk is not None and card_risk > 0:
            # the card's figure as the journal keeps it (rounded): half a cent more is the same promise
            qty = min(qty, round_qty((card_risk + HALF_CENT) / per_coin, inst, market=True))
        qty = min(qty, card_qty)
        risk_usdt = qty * per_coin
    if qty < inst.min_qty:
        return TapSizing(ZERO, fresh.sl, fresh.tp, ZERO, refused=(
            f"at {num(last)} the card's risk ({num(card_risk or ZERO, 2)} USDT) buys less than {inst.symbol}'s "
            f"minimum qty {num(inst.min_qty)}"))
    changed = None
    if qty != card_qty:
        why = [f"price {num(card_price)} → {num(last)}"] if last != card_price else []
        why.append(f"{num(params.risk_pct)}% of the available {num(available, 2)} USDT")
        if card_risk is not None and qty < fresh.qty:
            why.append(f"no more than the card's {num(card_risk, 2)} USDT")
        changed = (f"size changed at the tap: {num(card_qty)} → {num(qty)} so a stop-out at {num(fresh.sl)} loses "
                   f"{num(risk_usdt, 2)} USDT after fees ({'; '.join(why)})")
    return TapSizing(qty, fresh.sl, fresh.tp, risk_usdt, changed=changed)
