"""The resting-limit fill rule: how much of a resting (maker) limit order fills as the last price moves along one
monotone segment. Pure and deterministic, so the backtest can use the same rule.

Bybit documents that a resting limit executes at its price as maker (order/execution.mdx ``isMaker``), not how
much of it trades when the market reaches it: that depends on the queue ahead of it, which the simulator does not
see. The rule below is therefore a modelling choice (``proving.sim.conformance.MODELLED["resting-limit"]``):

- **through**: the segment ends beyond the order's price by at least one tick (below a Buy, above a Sell): every
  order resting at that price was consumed, so the order fills completely (what it has left);
- **touch**: the segment arrives at exactly the order's price from the side where the order rests (or ends less
  than a tick beyond it): ``min(left, touch_qty)``, where :func:`touch_qty` is ``touch_share`` of one synthetic
  book level's size at that price (``BookParams.level_notional / price``), floored to the qty step; the rest keeps
  resting (``PartiallyFilled``). Each new arrival at the price is a new touch; a segment that starts at the price
  is not one;
- otherwise nothing fills.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from tradebot.market_model.book import BookParams
from tradebot.money import ZERO
from tradebot.side import Side


def touch_qty(price: Decimal, qty_step: Decimal, params: BookParams) -> Decimal:
    """What trades at ``price`` on a touch: ``touch_share`` of one book level's size there, floored to the step."""
    raw = params.level_notional * params.touch_share / price
    return (raw / qty_step).to_integral_value(rounding=ROUND_FLOOR) * qty_step


def resting_fill_qty(side: Side, price: Decimal, left: Decimal, prev: Decimal, last: Decimal, tick: Decimal,
                     qty_step: Decimal, params: BookParams) -> Decimal:
    """Qty of a resting limit of ``side`` at ``price`` with ``left`` unfilled that fills as the last price moves
    ``prev`` → ``last`` (one monotone segment): everything when the price trades through it by a tick or more,
    ``min(left, touch_qty)`` when it only arrives at the price, else zero."""
    sign = Side(side).sign  # a Buy rests below the market and fills as the price falls to it
    beyond = (price - last) * sign
    if beyond >= tick:
        return left
    if beyond >= 0 and (price - prev) * sign < 0:
        return min(left, touch_qty(price, qty_step, params))
    return ZERO
