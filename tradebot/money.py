"""Money helpers that exist once: the Decimal zero (money is Decimal from the API to the journal)."""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)
