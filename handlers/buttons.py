"""Button data codec: every inline button's callback_data is encoded and decoded here (opaque, ≤ 64 bytes)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.roles import Role
from tradebot.intents import Button, ButtonAction, Buttons

MAX_BYTES = 64  # Telegram's limit for callback_data
PREFIX = {ButtonAction.APPROVE: "ap", ButtonAction.REJECT: "rj", ButtonAction.STOP_ALL: "sa",
          ButtonAction.CLOSE: "cl", ButtonAction.CANCEL: "no", ButtonAction.OPTIMIZE_SHOW: "oa",
          ButtonAction.OPTIMIZE_APPLY: "oc", ButtonAction.ADOPT: "uk:a", ButtonAction.CLOSE_UNKNOWN: "uk:c",
          ButtonAction.IGNORE_UNKNOWN: "uk:i", ButtonAction.MOVE_LEVEL: "mv", ButtonAction.PICK: "pk"}
_BY_PREFIX = {p: a for a, p in PREFIX.items()}
# What each button needs (handlers/roles.py). Every one trades, decides a card or changes settings; Cancel too (it
# spends the owner's card) and Apply… (it issues an Apply button). A new action not listed here needs an owner.
NEEDS: dict[ButtonAction, Role] = {
    ButtonAction.APPROVE: Role.OWNER, ButtonAction.REJECT: Role.OWNER, ButtonAction.STOP_ALL: Role.OWNER,
    ButtonAction.CLOSE: Role.OWNER, ButtonAction.CANCEL: Role.OWNER, ButtonAction.OPTIMIZE_SHOW: Role.OWNER,
    ButtonAction.OPTIMIZE_APPLY: Role.OWNER, ButtonAction.ADOPT: Role.OWNER, ButtonAction.CLOSE_UNKNOWN: Role.OWNER,
    ButtonAction.IGNORE_UNKNOWN: Role.OWNER, ButtonAction.MOVE_LEVEL: Role.OWNER, ButtonAction.PICK: Role.OWNER}


def needs(action: ButtonAction) -> Role:
    """The role a tap on ``action`` needs (owner when not declared)."""
    return NEEDS.get(action, Role.OWNER)


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
