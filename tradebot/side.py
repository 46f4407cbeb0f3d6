"""The side of an order or position: Bybit's "Buy"/"Sell" as a str enum, with its sign and opposite."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "Buy"
    SELL = "Sell"

    @property
    def sign(self) -> int:
        """+1 for a long (Buy), -1 for a short (Sell): price moves times sign are profit."""
        return 1 if self is Side.BUY else -1

    @property
    def word(self) -> str:
        """"long" or "short", as a trader says it."""
        return "long" if self is Side.BUY else "short"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def of_action(cls, action: str) -> Side:
        """A signal's action ("BUY"/"SELL") as the side of its entry."""
        return cls.BUY if action.upper() == "BUY" else cls.SELL
