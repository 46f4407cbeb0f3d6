"""Every button path: approve, reject, expiry, double tap, stale re-ask, stop all, close, unknown position."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storage.db import session_scope
from storage.models import Confirmation
from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import CHAT, Rig
from tests.waiting import until


def status(rig: Rig, conf_id: str) -> str:
    with session_scope(rig.deps.journal.db) as s:
        return s.get(Confirmation, conf_id).status


def conf_id(card) -> str:
    buttons = card.buttons or card.edits[0].buttons  # before the first edit dropped them
    return buttons[0][0][1].split(":", 1)[1]


async def test_card_shows_the_trade_and_approve_fills(rig: Rig) -> None:
    card = await rig.card()
    text = card.plain
    for part in ("LONG BTCUSDT", "Price", "size", "Risk after fees", "% of available balance", "Fees in it",
                 "SL", "TP", "reward:risk after fees", "Liquidation ≈", "Score", "ema"):
        assert part in text, part
    assert [label for label, _ in card.buttons[0]] == ["✅ Approve", "❌ Reject"]
    assert all(len(data.encode()) <= 64 and data[:3] in ("ap:", "rj:") for _, data in card.buttons[0])
    await rig.tap(card, "Approve")
    assert card.buttons == [] and "Executed (@user42): Filled" in card.plain and "LONG BTCUSDT" in card.plain
    assert rig.hub.answers[-1].text.startswith("Filled")
    assert len(rig.orders()) == 1 and status(rig, conf_id(card)) == "executed"
    await rig.hub.wait_for(lambda m: m.plain.startswith("🟢 Filled LONG"))  # the EntryFilled alert


async def test_double_tap_places_one_order(rig: Rig) -> None:
    card = await rig.card()
    data = card.buttons[0][0][1]
    await rig.tap_data(card, data)
    await rig.tap_data(card, data)  # second device / double tap on the same card
    assert len(rig.orders()) == 1
    assert "Already handled (executed)" in rig.hub.answers[-1].text and rig.hub.answers[-1].show_alert
    assert [e.method for e in card.edits] == ["editMessageText"]  # edited once, not again


async def test_tap_after_restart_says_already_handled(make_rig, rig: Rig) -> None:
    card = await rig.card()
    await rig.tap(card, "Approve")
    from tests.telegram.conftest import stop

    await stop(rig)
    again = await make_rig(hub=rig.hub, sim=rig.sim)
    await again.tap_data(card, f"ap:{conf_id(card)}")
    assert "Already handled" in again.hub.answers[-1].text and len(again.orders()) == 1


async def test_reject_edits_the_card(rig: Rig) -> None:
    card = await rig.card()
    await rig.tap(card, "Reject")
    assert "Rejected (@user42): Rejected. Nothing was traded." in card.plain and card.buttons == []
    assert rig.orders() == [] and status(rig, conf_id(card)) == "rejected"
    await rig.tap_data(card, f"ap:{conf_id(card)}")  # approve after reject: nothing happens
    assert rig.orders() == [] and "Already handled (rejected)" in rig.hub.answers[-1].text


async def test_expiry_edits_the_card(rig: Rig) -> None:
    card = await rig.card()
    rig.clock.advance(601)
    assert await rig.deps.engine.desk.expire() == [conf_id(card)]
    await rig.hub.wait_for(lambda m: m.message_id == card.message_id and "Expired" in m.plain)
    assert card.buttons == [] and "nothing was traded" in card.plain
    await rig.tap_data(card, f"ap:{conf_id(card)}")
    assert rig.orders() == [] and "expired" in rig.hub.answers[-1].text


async def test_stale_price_re_asks_with_a_fresh_card(rig: Rig) -> None:
    card = await rig.card()
    atr = rig.deps.engine.market.last_signals[SYMBOL].atr
    rig.sim.set_price(SYMBOL, Decimal(rig.sim.state()["prices"][SYMBOL]) + atr * 2)
    await rig.tap(card, "Approve")
    assert "Stale" in card.plain and "fresh confirmation was sent" in card.plain and rig.orders() == []
    fresh = await rig.hub.wait_for(lambda m: "Fresh numbers" in m.plain and bool(m.buttons))
    await rig.tap(fresh, "Approve")
    assert "Executed" in fresh.plain and len(rig.orders()) == 1


async def _open_position(rig: Rig) -> None:
    card = await rig.card()
    await rig.tap(card, "Approve")
    assert len(rig.deps.sim.state()["positions"]) and rig.orders()


def open_size(rig: Rig) -> Decimal:
    return sum((Decimal(p["size"]) for p in rig.sim.state()["positions"]), Decimal(0))


async def test_stop_all_cancel_then_confirm(rig: Rig) -> None:
    await _open_position(rig)
    ask = await rig.send("/stop all")
    assert "Stop all" in ask.plain and "BTCUSDT LONG" in ask.plain
    await rig.tap(ask, "Cancel")
    assert "Cancelled by @user42" in ask.plain and open_size(rig) > 0 and not rig.deps.engine.settings.paused
    ask = await rig.send("/stop all")
    yes = rig.hub.button(ask, "⚠️ Yes, close all")
    assert yes.startswith("sa:")
    await rig.tap(ask, "⚠️ Yes, close all")
    assert "Done" in ask.plain and "closed" in ask.plain
    assert open_size(rig) == 0 and rig.deps.engine.settings.paused
    await rig.tap_data(ask, yes)  # the same button again: single use
    assert rig.hub.answers[-1].text == "Already decided: Close all by @user42."


async def test_close_confirm(rig: Rig) -> None:
    await _open_position(rig)
    ask = await rig.send(f"/close {SYMBOL}")
    data = rig.hub.button(ask, f"Close {SYMBOL}")
    assert data.startswith("cl:") and SYMBOL not in data  # only an opaque token in the button
    await rig.tap(ask, f"Close {SYMBOL}")
    assert f"{SYMBOL}: closed" in ask.plain and open_size(rig) == 0


@pytest.mark.parametrize(("label", "expect", "size_after"), [
    ("Adopt", "adopted", "0.01"), ("Close", "closed", "0"), ("Ignore", "left alone", "0.01")])
async def test_unknown_position_buttons(rig: Rig, label: str, expect: str, size_after: str) -> None:
    await rig.deps.client.place_order(symbol=SYMBOL, side="Buy", qty=Decimal("0.01"), order_link_id="by-hand-1")
    await rig.tick()
    alert = await rig.hub.wait_for(lambda m: "Unknown position" in m.plain and bool(m.buttons))
    assert [b for b, _ in alert.buttons[0]] == ["Adopt", "Close", "Ignore"]
    await rig.tap(alert, label)
    assert expect in alert.plain and alert.buttons == []
    assert open_size(rig) == Decimal(size_after)
    if label == "Adopt":
        assert "Open positions (1)" in (await rig.send("/positions")).plain
    assert await until(lambda: any(a.action == "uk" and a.allowed for a in rig.audit()))


async def test_card_goes_to_every_allowed_chat_and_all_copies_are_edited(make_rig) -> None:
    rig = await make_rig()
    rig.deps.cfg.env.TELEGRAM_ALLOWED_CHAT_IDS.append(CHAT + 1)
    card = await rig.card()
    other = await rig.hub.wait_for(lambda m: m.chat_id == CHAT + 1 and bool(m.buttons))
    await rig.tap(card, "Reject")
    await rig.hub.wait_for(lambda m: m is other and "Rejected" in m.plain)
    assert other.buttons == []


async def test_an_approve_resting_as_a_maker_limit_is_answered_at_once_and_commands_go_on(make_rig) -> None:
    """Maker first: the entry may rest up to reprice_window_s. The tap is answered when the limit is about to rest
    (Telegram drops answers that come seconds late) and the card says it is executing; meanwhile other updates are
    handled: /positions answers while the limit still rests (it used to wait behind the tap). Then the card shows
    the result (here the market fallback: nothing moves the simulator's price to the resting limit)."""
    from tradebot.sizing.execution import ExecutionSettings

    # 8 s: room for two commands while the limit rests, on a loaded CI machine too
    rig = await make_rig(execution=ExecutionSettings(mode="maker_first", reprice_max=0, reprice_window_s=8))
    await rig.hub.wait_for(lambda m: "Started" in m.plain)
    card = await rig.card()
    await rig.tap(card, "Approve")
    assert rig.hub.answers[-1].text == ("Approved. The entry rests as a PostOnly limit for up to 8 s; this card shows "
                                        "the result.")
    assert card.buttons == [] and "⏳ Executing (@user42): Approved." in card.plain
    assert [o.order_type for o in await rig.deps.client.open_orders(SYMBOL)] == ["Limit"]  # resting now
    before = {m.message_id for m in rig.hub.sent(CHAT)}
    rig.hub.push_message(CHAT, "/positions")
    reply = await rig.hub.wait_for(lambda m: m.message_id not in before and "position" in m.plain.lower())
    assert "No open positions" in reply.plain, reply.plain  # answered while the entry still rests
    close = await rig.send(f"/close {SYMBOL}")
    assert "No open BTCUSDT position yet: an approved entry is still being placed" in close.plain, close.plain
    assert [o.order_type for o in await rig.deps.client.open_orders(SYMBOL)] == ["Limit"]
    await until(lambda: "Executed (@user42): Filled" in card.plain, limit=15)
    assert "not filled in 8 s" in card.plain and status(rig, conf_id(card)) == "executed"
    assert len(rig.hub.answers) == 1  # the tap was answered once
