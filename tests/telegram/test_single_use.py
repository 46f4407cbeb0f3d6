"""Every button works once, on its own card: one token per card (unknown-position cards included), checked against
the decision already taken, the action it was issued for and the chat it was sent to; a decision in one chat edits
the card's copies in the others to show who decided what. Stale, replayed, cross-card and cross-chat taps through
the real python-telegram-bot stack over the offline Bot API."""

from __future__ import annotations

from decimal import Decimal

from proving.telegram.types import SentMessage
from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import CHAT, Rig
from tests.telegram.test_buttons import open_size

OTHER = CHAT + 1  # a second allowed chat: another owner's private chat
ALREADY = "Already decided"
NOT_THIS_CARD = "This button does not belong to this card."
NOT_THIS_CHAT = "This button was not sent to this chat."
EXPIRED = "This button has expired or was already used."


def data_of(message: SentMessage, label: str) -> str:
    """A button's callback_data, also after an edit dropped the buttons (what an old client still shows)."""
    for buttons in (message.buttons, *(e.buttons for e in message.edits)):
        for row in buttons:
            for text, data in row:
                if text.endswith(label) and data is not None:
                    return data
    raise KeyError(label)


async def press(rig: Rig, message: SentMessage, data: str, chat: int | None = None) -> str:
    """Tap ``data`` on ``message`` (as if it were there, in ``chat``); the answer Telegram shows."""
    n = len(rig.hub.answers)
    chat = message.chat_id if chat is None else chat
    if chat != message.chat_id:  # a forged tap: the token of one chat's card on a message in another chat
        raw = dict(message.raw, chat=rig.hub.chat(chat))
        rig.hub.push_update({"callback_query": {"id": f"x{n}", "from": rig.hub._user(chat, None), "data": data,
                                                "chat_instance": f"ci{chat}", "message": raw}})
    else:
        rig.hub.push_callback(chat, data, message.message_id)
    await rig._answered(n)
    await rig.hub.wait_idle(quiet=0.2)
    return rig.hub.answers[-1].text or ""


async def unknown_cards(rig: Rig, chats: tuple[int, ...] = (CHAT,)) -> list[SentMessage]:
    """Open a position by hand (the bot did not), tick, and return the unknown-position card in each chat."""
    await rig.deps.client.place_order(symbol=SYMBOL, side="Buy", qty=Decimal("0.01"), order_link_id="by-hand-1")
    await rig.tick()
    return [await rig.hub.wait_for(lambda m, c=c: m.chat_id == c and "Unknown position" in m.plain and bool(m.buttons))
            for c in chats]


async def test_ignore_in_one_chat_decides_the_copy_in_the_other(make_rig) -> None:
    """The issue's probe: after Ignore in the private chat, the second chat's Close market-closed the position."""
    rig = await make_rig()
    rig.deps.cfg.env.TELEGRAM_ALLOWED_CHAT_IDS.append(OTHER)
    mine, theirs = await unknown_cards(rig, (CHAT, OTHER))
    close_there = data_of(theirs, "Close")
    assert data_of(mine, "Close") == close_there and SYMBOL not in close_there  # one opaque token per card
    await rig.tap(mine, "Ignore")
    assert "Ignore (@user42)" in mine.plain and "left alone" in mine.plain and mine.buttons == []
    await rig.hub.wait_for(lambda m: m is theirs and "Ignore (@user42)" in m.plain)  # who decided what
    assert theirs.buttons == [] and "left alone" in theirs.plain
    answer = await press(rig, theirs, close_there)  # a tap that was on its way, or an old client's
    assert answer.startswith(f"{ALREADY}: Ignore by @user42"), answer
    assert open_size(rig) == Decimal("0.01")


async def test_replaying_close_after_ignore_does_nothing(rig: Rig) -> None:
    """The issue's probe: replaying uk:c: in the same chat after Ignore closed the position."""
    [card] = await unknown_cards(rig)
    close = data_of(card, "Close")
    await rig.tap(card, "Ignore")
    for data in (close, close, data_of(card, "Adopt"), data_of(card, "Ignore")):
        assert (await press(rig, card, data)).startswith(f"{ALREADY}: Ignore by @user42")
    assert open_size(rig) == Decimal("0.01") and "(not managed by the bot)" in (await rig.send("/positions")).plain


async def test_old_symbol_buttons_are_stale(rig: Rig) -> None:
    """A card sent before the upgrade carries the symbol (uk:c:BTCUSDT): it no longer acts."""
    [card] = await unknown_cards(rig)
    for data in (f"uk:c:{SYMBOL}", f"uk:a:{SYMBOL}", "uk:c:EVILUSDT"):
        assert await press(rig, card, data) == EXPIRED
    assert open_size(rig) == Decimal("0.01")
    await rig.hub.wait_idle(quiet=0.2)
    assert not [m for m in rig.hub.sent() if "went wrong" in m.plain or "Error while handling" in m.plain]


async def test_a_close_token_tapped_as_stop_all_does_not_burn_the_close_button(rig: Rig) -> None:
    """The issue's probe: sa:<close token> consumed the token, and the real Close then said "expired"."""
    card = await rig.card()
    await rig.tap(card, "Approve")
    ask = await rig.send(f"/close {SYMBOL}")
    token = data_of(ask, f"Close {SYMBOL}").split(":", 1)[1]
    for forged in (f"sa:{token}", f"uk:c:{token}", f"uk:i:{token}", f"oc:{token}"):  # (oc: /optimize's Apply)
        assert await press(rig, ask, forged) == NOT_THIS_CARD
    assert open_size(rig) > 0 and not rig.deps.engine.settings.paused and ask.buttons
    await rig.tap(ask, f"Close {SYMBOL}")
    await rig.hub.wait_for(lambda m: m is ask and "Done" in m.plain)
    assert open_size(rig) == 0
    assert (await press(rig, ask, f"cl:{token}")).startswith(f"{ALREADY}: Close by @user42")
    assert (await press(rig, ask, f"no:{token}")).startswith(f"{ALREADY}: Close by @user42")


async def test_a_token_from_another_chat_is_refused(make_rig) -> None:
    rig = await make_rig()
    rig.deps.cfg.env.TELEGRAM_ALLOWED_CHAT_IDS.append(OTHER)
    card = await rig.card()
    await rig.tap(card, "Approve")
    ask = await rig.send("/stop all")
    yes = data_of(ask, "Yes, close all")
    elsewhere = await rig.send("/status", chat=OTHER)
    assert await press(rig, elsewhere, yes) == NOT_THIS_CHAT
    assert await press(rig, ask, yes, chat=OTHER) == NOT_THIS_CHAT
    assert open_size(rig) > 0 and not rig.deps.engine.settings.paused
    await rig.tap(ask, "Yes, close all")
    await rig.hub.wait_for(lambda m: m is ask and "Done" in m.plain)
    assert open_size(rig) == 0 and rig.deps.engine.settings.paused


async def test_stale_tokens_expire(rig: Rig) -> None:
    card = await rig.card()
    await rig.tap(card, "Approve")
    ask = await rig.send(f"/close {SYMBOL}")
    rig.clock.advance(11 * 60)  # asks live 10 minutes
    assert await press(rig, ask, data_of(ask, f"Close {SYMBOL}")) == EXPIRED
    assert open_size(rig) > 0 and ask.buttons == [] and EXPIRED in ask.plain


async def test_a_card_decided_by_the_default_refuses_a_later_tap(make_rig) -> None:
    """The decision already taken includes the default applied when nobody answered in time."""
    rig = await make_rig(unknown_position="ignore", unknown_position_wait_seconds=0)
    await rig.deps.client.place_order(symbol=SYMBOL, side="Buy", qty=Decimal("0.01"), order_link_id="by-hand-1")
    await rig.tick()  # the card, and at once the default (its copy is edited: tested below)
    card = await rig.hub.wait_for(lambda m: "Unknown position" in m.plain)
    answer = await press(rig, card, data_of(card, "Close"))
    assert answer.startswith(f"{ALREADY}: Ignore by the default.") and f"/close {SYMBOL}" in answer, answer
    assert open_size(rig) == Decimal("0.01") and card.buttons == []


async def test_the_default_applied_by_the_tick_edits_every_copy_of_the_card(make_rig) -> None:
    """Nobody answered in time: the tick applies the default, and the card's copies in every chat lose their buttons
    and say so, without a tap; a late tap on an old copy hears who decided (the default)."""
    rig = await make_rig(unknown_position="adopt", unknown_position_wait_seconds=300)
    rig.deps.cfg.env.TELEGRAM_ALLOWED_CHAT_IDS.append(OTHER)
    copies = await unknown_cards(rig, (CHAT, OTHER))
    close = data_of(copies[1], "Close")
    rig.sim.step(2)  # two 5-minute candles on the exchange's clock: the default's deadline has passed
    await rig.tick()
    for card in copies:
        await rig.hub.wait_for(lambda m, card=card: m is card and "default applied" in m.plain)
        assert card.buttons == [] and f"Adopt</b>: default applied: {SYMBOL}: adopted LONG 0.01" in card.text, card.text
    assert open_size(rig) == Decimal("0.01")
    answer = await press(rig, copies[1], close)
    assert answer.startswith(f"{ALREADY}: Adopt by the default.") and f"/close {SYMBOL}" in answer, answer
    assert open_size(rig) == Decimal("0.01")  # the late Close did nothing


async def test_a_card_for_a_position_that_changed_is_out_of_date(rig: Rig) -> None:
    [old] = await unknown_cards(rig)
    await rig.deps.client.place_order(symbol=SYMBOL, side="Buy", qty=Decimal("0.01"), order_link_id="by-hand-2")
    await rig.tick()
    new = await rig.hub.wait_for(lambda m: m is not old and "Unknown position" in m.plain and bool(m.buttons))
    assert "out of date" in await press(rig, old, data_of(old, "Close"))
    assert open_size(rig) == Decimal("0.02")
    await rig.tap(new, "Close")
    await rig.hub.wait_for(lambda m: m is new and "Close (@user42)" in m.plain)
    assert open_size(rig) == 0


async def test_a_button_forged_onto_another_message_decides_nothing(rig: Rig) -> None:
    """Callback data can be forged: a card is decided only from the card itself, and forged data on a card never
    spends or strips it."""
    card = await rig.card()
    approve = data_of(card, "Approve")
    other = await rig.send("/status")
    assert await press(rig, other, approve) == NOT_THIS_CARD  # the real confirmation id, on another message
    for forged in ("rj:nope", "cl:forged", "uk:i:forged", "no:forged"):
        await press(rig, card, forged)
    assert card.buttons and rig.orders() == []  # the card still stands
    await rig.tap(card, "Approve")
    assert "Executed (@user42)" in card.plain and len(rig.orders()) == 1
    ask = await rig.send(f"/close {SYMBOL}")
    close = data_of(ask, f"Close {SYMBOL}")
    assert await press(rig, other, close) == NOT_THIS_CARD and ask.buttons and open_size(rig) > 0
    await rig.tap(ask, f"Close {SYMBOL}")
    await rig.hub.wait_for(lambda m: m is ask and "Done" in m.plain)
    assert open_size(rig) == 0
