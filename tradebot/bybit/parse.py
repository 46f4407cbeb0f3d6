"""Bybit's wire strings → values: Decimal numbers (rejecting NaN/inf and garbage), epoch ms, sides, required
fields."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from tradebot.errors import ExchangeError
from tradebot.money import ZERO
from tradebot.side import Side

NO_SIDE = ("", "None")  # a flat position's side: "" (position.mdx), "None" on classic accounts


def dec(value: Any, default: Decimal | None = ZERO) -> Decimal | None:
    """Parse a Bybit numeric string; '' or missing → ``default``. Rejects NaN/inf and garbage."""
    if value is None or value == "":
        return default
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:
        raise ExchangeError(f"malformed number from Bybit: {value!r}") from exc
    if not d.is_finite():
        raise ExchangeError(f"malformed number from Bybit: {value!r}")
    return d


def req_dec(value: Any, field: str) -> Decimal:
    """A numeric field that must be present."""
    d = dec(value, None)
    if d is None:
        raise ExchangeError(f"Bybit response is missing {field}")
    return d


def opt_price(value: Any) -> Decimal | None:
    """TP/SL/trailing fields: '0', '0.00' or '' mean 'not set' → None."""
    d = dec(value, None)
    return d if d else None


def ms(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError) as exc:
        raise ExchangeError(f"malformed timestamp from Bybit: {value!r}") from exc


def field(row: dict[str, Any], name: str) -> Any:
    if name not in row:
        raise ExchangeError(f"Bybit response is missing {name}")
    return row[name]


def side(value: Any, name: str = "side") -> Side:
    """An order's or a fill's side: "Buy" or "Sell" (enum.mdx#side); anything else is malformed."""
    try:
        return Side(value)
    except ValueError:
        raise ExchangeError(f"malformed {name} from Bybit: {value!r} (Buy or Sell)") from None


def opt_side(value: Any, name: str = "side") -> Side | None:
    """A side that may be empty: a flat position's ("" or "None", or missing) is None."""
    return None if value is None or value in NO_SIDE else side(value, name)
