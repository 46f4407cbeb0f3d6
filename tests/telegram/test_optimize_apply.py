"""The /optimize Apply card works once, in the chat it was sent to, from the card itself (issue 20): a tap from
another chat, a forged tap on another message, a replay after Apply and an Apply after Cancel change nothing.
The proposal is saved as /optimize's result saves it (the study itself is tested in test_optimize.py)."""

from __future__ import annotations

from decimal import Decimal

from handlers.buttons import markup
from proving.telegram.types import SentMessage
from tests.telegram.conftest import CHAT, Rig
from tests.telegram.test_single_use import ALREADY, NOT_THIS_CARD, NOT_THIS_CHAT, OTHER, data_of, press
from tradebot.intents import Button, ButtonAction

PROPOSED = {"risk.tp_atr": 5.0}


async def apply_card(rig: Rig, chat: int = CHAT) -> SentMessage:
    """The result's "Apply…" button, as /optimize sends it, tapped: the Apply card it asks on."""
    pid = await rig.deps.service.save_proposal("BTCUSDT", dict(PROPOSED))
    await rig.app.bot.send_message(chat, "optimize result", reply_markup=markup(
        [[("Apply…", Button(ButtonAction.OPTIMIZE_SHOW, pid))]]))
    result = await rig.hub.wait_for(lambda m: m.chat_id == chat and m.plain == "optimize result")
    await rig.tap(result, "Apply…", chat=chat)
    return await rig.hub.wait_for(lambda m: m.chat_id == chat and m.plain.startswith("Apply these settings"))


async def test_apply_is_chat_bound_card_bound_and_single_use(make_rig) -> None:
    rig: Rig = await make_rig()
    rig.deps.cfg.env.TELEGRAM_ALLOWED_CHAT_IDS.append(OTHER)  # another owner's private chat
    engine = rig.deps.engine
    assert engine.settings.risk.tp_atr == Decimal("3.0")
    card = await apply_card(rig)
    apply = data_of(card, "Apply")

    assert await press(rig, card, apply, chat=OTHER) == NOT_THIS_CHAT  # the token of this chat's card, elsewhere
    other_message = await rig.send("/status")
    assert await press(rig, other_message, apply) == NOT_THIS_CARD  # forged onto another message in this chat
    assert engine.settings.risk.tp_atr == Decimal("3.0") and card.buttons  # nothing applied, the card still live

    assert (await press(rig, card, apply)).startswith("Applied 1 setting(s)")
    assert engine.settings.risk.tp_atr == Decimal("5") and "Applied" in card.plain and not card.buttons
    await rig.send("/risk 2")  # a later change...
    assert (await press(rig, card, apply)).startswith(f"{ALREADY}: Apply by ")  # ...a replay does not undo
    assert engine.settings.risk.tp_atr == Decimal("5") and engine.settings.risk.risk_pct == Decimal("2")


async def test_cancel_then_apply_applies_nothing(make_rig) -> None:
    rig: Rig = await make_rig()
    card = await apply_card(rig)
    apply = data_of(card, "Apply")
    await rig.tap(card, "Cancel")
    assert "Nothing was done" in card.plain and not card.buttons
    assert (await press(rig, card, apply)).startswith(f"{ALREADY}: Cancel by ")
    assert rig.deps.engine.settings.risk.tp_atr == Decimal("3.0")
