"""A signal that gets no card says why in the same message; a card says when its size was capped (issue 21)."""

from __future__ import annotations

from decimal import Decimal

from handlers.render.formatting import render_event
from tests.engine.conftest import SYMBOL
from tradebot.events import ConfirmationNeeded, EntryFilled, ErrorEvent, SignalEvent


async def test_paused_signal_says_why_and_no_card_follows(make_rig) -> None:
    rig = make_rig(mode="confirm")
    await rig.engine.pause("test")
    await rig.engine.tick(SYMBOL)
    [sig] = rig.events.of(SignalEvent)
    assert sig.signal.action == "BUY" and sig.not_traded == "the bot is paused (/resume to allow entries)"
    assert not rig.events.of(ConfirmationNeeded)
    out = render_event(sig)
    assert out is not None and out.text.endswith("No card: the bot is paused (/resume to allow entries).")


async def test_signal_with_a_card_has_no_reason_and_the_card_knows_the_asked_risk(make_rig) -> None:
    rig = make_rig(mode="confirm")
    await rig.engine.tick(SYMBOL)
    [sig] = rig.events.of(SignalEvent)
    [card] = rig.events.of(ConfirmationNeeded)
    assert sig.not_traded is None and card.asked_pct == Decimal("1.0") and not card.capped


async def test_an_open_position_is_the_reason_on_the_next_signal(make_rig, sim) -> None:
    rig = make_rig(mode="auto")
    await rig.engine.tick(SYMBOL)
    assert rig.events.of(EntryFilled) and rig.position()
    sim.step(1)
    await rig.engine.tick(SYMBOL)
    reasons = [e.not_traded for e in rig.events.of(SignalEvent)]
    assert reasons == [None, f"a {SYMBOL} position is already open"]
    assert not [e for e in rig.events.of(ErrorEvent) if "not traded" in e.message]


async def test_a_capped_card_says_so(make_rig) -> None:
    rig = make_rig(mode="confirm", risk_pct=10, leverage=1)  # 10% over a short stop: far beyond balance × 1
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    assert card.capped and card.asked_pct == Decimal(10) and card.risk_pct < Decimal(10)
    out = render_event(card)
    assert out is not None and "⚠ Capped by leverage/margin: " in out.text and "instead of 10.00%" in out.text
