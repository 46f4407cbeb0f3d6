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
    ADOPT = "adopt"  # ref: the unknown-position card's single-use token
    CLOSE_UNKNOWN = "close_unknown"  # ref: the unknown-position card's single-use token
    IGNORE_UNKNOWN = "ignore_unknown"  # ref: the unknown-position card's single-use token
    MOVE_LEVEL = "move_level"  # ref: single-use token (a /sl that loosens the stop, confirmed)
    PICK = "pick"  # ref: single-use token of one position on a /close or /sl picker


class UnknownDecision(StrEnum):
    """What becomes of a position the journal does not know (``[bot] unknown_position``, or its card's button)."""

    ADOPT = "adopt"  # manage it as the bot's own trade
    CLOSE = "close"  # close it (reduce-only market)
    IGNORE = "ignore"  # leave it alone, unmanaged


# What an unknown-position button decides (PositionManager.decide_unknown's words), in the card's button order.
UNKNOWN_DECISIONS = {ButtonAction.ADOPT: UnknownDecision.ADOPT, ButtonAction.CLOSE_UNKNOWN: UnknownDecision.CLOSE,
                     ButtonAction.IGNORE_UNKNOWN: UnknownDecision.IGNORE}
# A card's decision in words: its button's label ("Already decided: Ignore by @owner").
DECISION_WORDS = {ButtonAction.APPROVE: "Approve", ButtonAction.REJECT: "Reject", ButtonAction.STOP_ALL: "Close all",
                  ButtonAction.CLOSE: "Close", ButtonAction.CANCEL: "Cancel", ButtonAction.OPTIMIZE_SHOW: "Apply…",
                  ButtonAction.OPTIMIZE_APPLY: "Apply", ButtonAction.ADOPT: "Adopt",
                  ButtonAction.CLOSE_UNKNOWN: "Close", ButtonAction.IGNORE_UNKNOWN: "Ignore",
                  ButtonAction.MOVE_LEVEL: "Move", ButtonAction.PICK: "Pick"}
WORD_OF_DECISION = {a.value: w for a, w in DECISION_WORDS.items()}  # by the stored value (the journal's words)


@dataclass(frozen=True)
class Button:
    """What a tap asks for: an action and the id it acts on (a confirmation, a card's token or a proposal)."""

    action: ButtonAction
    ref: str


Buttons = list[list[tuple[str, Button]]]  # rows of (label, intent)
