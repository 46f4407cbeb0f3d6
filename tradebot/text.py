"""Plain-text numbers for the core's messages (outcomes, notes): no markup. The chat layer's Telegram HTML is
rendered in handlers/render/."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def num(value: Decimal | float | int | None, places: int | None = None) -> str:
    """Decimal → plain string with thousands separators; ``places`` rounds (default: as is)."""
    if value is None:
        return "—"
    d = Decimal(str(value))
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{d:,f}"
    if places is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def usdt(value: Decimal | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    text = num(value, 2)
    return f"+{text}" if signed and value > 0 else text


def pct(value: Decimal | float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    text = num(Decimal(str(value)), 2)
    return f"+{text}%" if signed and value > 0 else f"{text}%"
