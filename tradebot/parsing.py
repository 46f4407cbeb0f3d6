"""Numbers and words as people type them in chat, read strictly, and cut before they are echoed back.

Python's ``int()``, ``Decimal()`` and ``str.isdigit()`` accept far more than a trader means: superscripts
(``"²".isdigit()``), other scripts' digits (``int("١٠") == 10``) and underscores (``Decimal("1_0") == 10``).
Chat arguments are ASCII digits only; anything else is refused with the command's usage.
"""

from __future__ import annotations

import re
from decimal import Decimal

WHOLE_RE = re.compile(r"[0-9]{1,9}")
DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]{1,12}(?:\.[0-9]{0,12})?|\.[0-9]{1,12})")
ECHO_CHARS = 32  # the longest valid argument (a symbol) is 24 characters


def whole(text: str) -> int:
    """A whole number written with ASCII digits 0-9 (nothing else, no sign); ValueError otherwise."""
    if not WHOLE_RE.fullmatch(text):
        raise ValueError(f"not a whole number: {shown(text)}")
    return int(text)


def decimal(text: str) -> Decimal:
    """A decimal number written with ASCII digits, an optional sign and one point (``1.5``, ``.5``); no
    exponent, no underscores, no other scripts' digits; ValueError otherwise."""
    if not DECIMAL_RE.fullmatch(text):
        raise ValueError(f"not a number: {shown(text)}")
    return Decimal(text)


def shown(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` quoted for an answer, cut to ``limit`` characters (``'AAAA…'``): an echo never crowds out the
    reason and the usage that follow it."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
