"""Button data codec: every inline button's callback_data is encoded and decoded here (opaque, ≤ 64 bytes)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from tradebot.intents import Button, ButtonAction, Buttons

MAX_BYTES = 64  # Telegram's limit for callback_data
PREFIX = {ButtonAction.APPROVE: "ap", ButtonAction.REJECT: "rj", ButtonAction.STOP_ALL: "sa",
          ButtonAction.CLOSE: "cl", ButtonAction.CANCEL: "no", ButtonAction.OPTIMIZE_SHOW: "oa",
          ButtonAction.OPTIMIZE_APPLY: "oc", ButtonAction.ADOPT: "uk:a", ButtonAction.CLOSE_UNKNOWN: "uk:c",
          ButtonAction.IGNORE_UNKNOWN: "uk:i"}
_BY_PREFIX = {p: a for a, p in PREFIX.items()}


def encode(button: Button) -> str:
    data = f"{PREFIX[button.action]}:{button.ref}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback_data over {MAX_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Button | None:
    """The intent of a tap; None for anything this bot did not encode (or a button without its id)."""
    text = data or ""
    head, _, rest = text.partition(":")
    if head == "uk":
        head, _, rest = rest.partition(":")
        head = f"uk:{head}"
    action = _BY_PREFIX.get(head)
    if action is None or not rest or (head.startswith("uk:") and ":" in rest):
        return None
    return Button(action, rest)


def markup(buttons: Buttons) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=encode(b)) for label, b in row]
                                 for row in buttons])
