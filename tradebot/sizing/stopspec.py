"""A stop given by hand (/long, /short): a price or an ATR multiple, and the sizing parameters that put the stop
exactly there. Pure; shared by the manual desk and the confirmation desk (a manual card re-asked keeps its stop)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from tradebot.errors import ArgumentError
from tradebot.money import ZERO
from tradebot.parsing import decimal, shown
from tradebot.sizing.risk import RiskParams

ATR_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)atr$")
MAX_ATR = Decimal(50)  # as RiskParams.sl_atr allows


@dataclass(frozen=True)
class StopSpec:
    """A manual entry's stop: a price, or a multiple of the ATR (``1.8atr``)."""

    price: Decimal | None = None
    atr_mult: Decimal | None = None


def parse_stop(raw: str) -> StopSpec:
    text = raw.strip().lower()
    if m := ATR_RE.match(text):
        mult = Decimal(m.group(1))
        if not ZERO < mult <= MAX_ATR:
            raise ArgumentError(f"{shown(raw)}: the ATR multiple must be above 0 and at most {MAX_ATR}.")
        return StopSpec(atr_mult=mult)
    try:
        price = decimal(text)
    except ValueError:
        raise ArgumentError(f"{shown(raw)} is neither a price nor an ATR multiple like 1.8atr.") from None
    if price <= 0:
        raise ArgumentError(f"{shown(raw)}: a stop price must be above 0.")
    return StopSpec(price=price)


def at_distance(params: RiskParams, atr: Decimal, distance: Decimal) -> tuple[Decimal, RiskParams]:
    """(atr, params) for ``size_position`` so that its stop is ``distance`` from the entry exactly (the distance
    as the "ATR" with ``sl_atr`` 1: no ratio to round) and its target stays ``tp_atr`` real ATRs away."""
    return distance, params.model_copy(update={"sl_atr": Decimal(1), "tp_atr": params.tp_atr * atr / distance})
