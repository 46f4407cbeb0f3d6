"""Instrument trading rules (tick size, qty step, limits) and exact Decimal rounding of prices and qty."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from typing import Literal

from tradebot.errors import OrderRuleError
from tradebot.side import Side

Direction = Literal["down", "up", "nearest"]

# Wide precision so step arithmetic on prices/quantities is exact; traps turn silent NaNs into errors.
_CTX = Context(prec=60, traps=[InvalidOperation, DivisionByZero, Overflow])


def as_decimal(name: str, value: object) -> Decimal:
    """Return ``value`` as a finite Decimal; floats (inexact) and bools are refused with TypeError."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal (never a float), got {type(value).__name__} {value!r}")
    d = Decimal(value)
    if not d.is_finite():
        raise ValueError(f"{name} must be a finite number, got {d}")
    return d


def side_sign(side: str) -> int:
    """+1 for a long ("Buy"), -1 for a short ("Sell"); anything else is a ValueError."""
    try:
        return Side(side).sign
    except ValueError:
        raise ValueError(f"side must be 'Buy' or 'Sell', got {side!r}") from None


@dataclass(frozen=True)
class Instrument:
    """The lot-size, price and leverage filters of one linear perpetual (from /v5/market/instruments-info)."""

    symbol: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    max_mkt_qty: Decimal
    min_notional: Decimal
    max_leverage: Decimal
    min_leverage: Decimal = Decimal("1")
    leverage_step: Decimal = Decimal("0.01")

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("instrument symbol must not be empty")
        for f in fields(self):
            if f.name == "symbol":
                continue
            value = as_decimal(f"{self.symbol} {f.name}", getattr(self, f.name))
            object.__setattr__(self, f.name, value)
            positive = f.name in {
                "tick_size",
                "qty_step",
                "max_qty",
                "max_mkt_qty",
                "max_leverage",
                "leverage_step",
            }
            if value < 0 or (positive and value == 0):
                raise ValueError(
                    f"{self.symbol} {f.name} must be {'> 0' if positive else '>= 0'}, got {value}"
                )
        if self.min_qty > self.max_qty or self.min_qty > self.max_mkt_qty:
            raise ValueError(f"{self.symbol} min_qty {self.min_qty} exceeds max_qty/max_mkt_qty")
        if self.min_leverage > self.max_leverage:
            raise ValueError(f"{self.symbol} min_leverage {self.min_leverage} exceeds max_leverage")

    def leverage(self, wanted: Decimal) -> Decimal:
        """The leverage the bot sets on this symbol for the configured ``wanted``: capped at the instrument's max."""
        return min(wanted, self.max_leverage)


def _to_step(value: Decimal, step: Decimal, direction: Direction) -> Decimal:
    """Exact step multiple next to ``value``: floor ("down"), ceiling ("up"), nearest (ties away from 0)."""
    with localcontext(_CTX):
        q = value // step  # exact integer quotient, truncated toward zero
        rem = value - q * step  # same sign as value, |rem| < step
        if rem != 0:
            if direction == "down" and rem < 0:
                q -= 1
            elif direction == "up" and rem > 0:
                q += 1
            elif direction == "nearest" and 2 * abs(rem) >= step:
                q += 1 if rem > 0 else -1
        return q * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when ``value`` is an exact multiple of ``step``."""
    with localcontext(_CTX):
        return value % step == 0


def round_qty(qty: Decimal, inst: Instrument, market: bool = True) -> Decimal:
    """Round ``qty`` DOWN to qty_step after capping it at max_mkt_qty (market) or max_qty (limit)."""
    qty = as_decimal("qty", qty)
    if qty < 0:
        raise ValueError(f"qty must be >= 0, got {qty}")
    cap = inst.max_mkt_qty if market else inst.max_qty
    return _to_step(min(qty, cap), inst.qty_step, "down")


def round_price(price: Decimal, inst: Instrument, direction: Direction) -> Decimal:
    """Round ``price`` to a multiple of tick_size in the given direction."""
    if direction not in ("down", "up", "nearest"):
        raise ValueError(f"direction must be 'down', 'up' or 'nearest', got {direction!r}")
    return _to_step(as_decimal("price", price), inst.tick_size, direction)


def stop_price(price: Decimal, inst: Instrument, side_of_position: Side) -> Decimal:
    """Round a stop-loss toward entry (long UP, short DOWN) so the risk never exceeds the computed one."""
    return round_price(price, inst, "up" if side_sign(side_of_position) > 0 else "down")


def take_profit_price(price: Decimal, inst: Instrument, side_of_position: Side) -> Decimal:
    """Round a take-profit toward entry (long DOWN, short UP): never farther than computed, so reachable."""
    return round_price(price, inst, "down" if side_sign(side_of_position) > 0 else "up")


def format_decimal(d: Decimal) -> str:
    """Plain wire string: no exponent, no trailing zeros ("0.010" -> "0.01", "1E+2" -> "100")."""
    d = as_decimal("value", d)
    if d == 0:
        return "0"
    text = format(d, "f")  # exact, unlike normalize() which rounds to the context precision
    return text.rstrip("0").rstrip(".") if "." in text else text


def check_order(qty: Decimal, price: Decimal, inst: Instrument, market: bool = True) -> None:
    """Raise OrderRuleError when (qty, price) break the instrument's rules; call before anything is sent.

    ``price`` is the limit price, or for a market order the expected fill price (used for the order value);
    only limit prices must sit on the tick grid.
    """
    qty, price = as_decimal("qty", qty), as_decimal("price", price)
    sym, fmt = inst.symbol, format_decimal
    if qty <= 0:
        raise OrderRuleError(f"qty {fmt(qty)} must be greater than 0")
    if price <= 0:
        raise OrderRuleError(f"price {fmt(price)} must be greater than 0")
    if qty < inst.min_qty:
        raise OrderRuleError(f"qty {fmt(qty)} is below {sym}'s minimum order qty {fmt(inst.min_qty)}")
    if not is_multiple(qty, inst.qty_step):
        raise OrderRuleError(f"qty {fmt(qty)} is not a multiple of {sym}'s qty step {fmt(inst.qty_step)}")
    cap = inst.max_mkt_qty if market else inst.max_qty
    if qty > cap:
        kind = "market" if market else "limit"
        raise OrderRuleError(f"qty {fmt(qty)} is above {sym}'s maximum {kind} order qty {fmt(cap)}")
    if not market and not is_multiple(price, inst.tick_size):
        raise OrderRuleError(
            f"price {fmt(price)} is not a multiple of {sym}'s tick size {fmt(inst.tick_size)}"
        )
    value = qty * price
    if value < inst.min_notional:
        raise OrderRuleError(
            f"order value {fmt(value)} USDT is below the {fmt(inst.min_notional)} USDT minimum for {sym}"
        )
