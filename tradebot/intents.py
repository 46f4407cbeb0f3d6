"""Button intents the core and the commands attach to messages (typed; handlers/buttons.py encodes them)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ButtonAction(StrEnum):
    APPROVE = "approve"  # ref: confirmation id
    REJECT = "reject"  # ref: confirmation id
    STOP_ALL = "stop_all"  # ref: single-use token
    CLOSE = "close"  # ref: single-use token
    CANCEL = "cancel"  # ref: single-use token
    OPTIMIZE_SHOW = "optimize_show"  # ref: optimize proposal id
    OPTIMIZE_APPLY = "optimize_apply"  # ref: single-use token
    ADOPT = "adopt"  # ref: symbol of an unknown position
    CLOSE_UNKNOWN = "close_unknown"  # ref: symbol of an unknown position
    IGNORE_UNKNOWN = "ignore_unknown"  # ref: symbol of an unknown position


# What an unknown-position button decides (PositionManager.decide_unknown's words).
UNKNOWN_DECISIONS = {ButtonAction.ADOPT: "adopt", ButtonAction.CLOSE_UNKNOWN: "close",
                     ButtonAction.IGNORE_UNKNOWN: "ignore"}


@dataclass(frozen=True)
class Button:
    """What a tap asks for: an action and the id it acts on (a confirmation, token, proposal or symbol)."""

    action: ButtonAction
    ref: str


Buttons = list[list[tuple[str, Button]]]  # rows of (label, intent)
