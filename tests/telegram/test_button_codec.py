"""The button codec: every intent round-trips through callback_data of at most 64 bytes; foreign data is refused."""

from __future__ import annotations

import pytest

from handlers.buttons import MAX_BYTES, decode, encode
from tradebot.intents import Button, ButtonAction


@pytest.mark.parametrize("action", list(ButtonAction))
def test_every_intent_round_trips(action: ButtonAction) -> None:
    button = Button(action, "c0ffee-1234567890abcdef")  # an opaque id: a confirmation, a card's token, a proposal
    data = encode(button)
    assert len(data.encode()) <= MAX_BYTES
    assert decode(data) == button


def test_wire_format_is_kept() -> None:  # cards already in chats still decode across the upgrade
    assert decode("ap:abc") == Button(ButtonAction.APPROVE, "abc")
    assert decode("uk:c:ETHUSDT") == Button(ButtonAction.CLOSE_UNKNOWN, "ETHUSDT")  # (a symbol: now a stale token)
    assert encode(Button(ButtonAction.IGNORE_UNKNOWN, "Zz9_yY8-XxW")) == "uk:i:Zz9_yY8-XxW"


@pytest.mark.parametrize("data", [None, "", "ap:", "zz:1", "uk:a", "uk:x:BTC", "uk:a:B:C", "approve:7"])
def test_foreign_or_broken_data_is_refused(data: str | None) -> None:
    assert decode(data) is None


def test_too_long_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        encode(Button(ButtonAction.APPROVE, "x" * 70))
