"""What holds the --demo replay at a terminal (issue 21): trade decisions only, never the optimiser's Apply…; and a
fresh position until the user presses Enter on an empty line."""

from __future__ import annotations

from telegram import Bot

from handlers.buttons import markup
from proving.telegram.hub import OfflineTelegram
from proving.terminal import TerminalChat
from tradebot.intents import Button, ButtonAction
from wiring.demo import PositionWait, decision_cards

CHAT = 7


async def test_only_trade_decisions_hold_the_replay() -> None:
    hub = OfflineTelegram()
    chat = TerminalChat(hub, CHAT, write=lambda _t: None)
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        await bot.send_message(CHAT, "result", reply_markup=markup([[("⚠ Apply anyway…",
                                                                      Button(ButtonAction.OPTIMIZE_SHOW, "p1"))]]))
        await bot.send_message(CHAT, "apply?", reply_markup=markup([[
            ("✅ Apply", Button(ButtonAction.OPTIMIZE_APPLY, "t1")), ("Cancel", Button(ButtonAction.CANCEL, "t1"))]]))
        assert len(chat.open_cards()) == 2 and decision_cards(chat) == []  # open, but nothing to wait for
        close = await bot.send_message(CHAT, "close?", reply_markup=markup([[
            ("Close BTCUSDT", Button(ButtonAction.CLOSE, "t2")), ("Cancel", Button(ButtonAction.CANCEL, "t2"))]]))
        card = await bot.send_message(CHAT, "card", reply_markup=markup([[
            ("✅ Approve", Button(ButtonAction.APPROVE, "c1")), ("❌ Reject", Button(ButtonAction.REJECT, "c1"))]]))
        assert decision_cards(chat) == [close.message_id, card.message_id]
        await bot.edit_message_text("closed", CHAT, close.message_id)  # answered: its buttons are gone
        assert decision_cards(chat) == [card.message_id]


async def test_a_fresh_position_holds_until_an_empty_line() -> None:
    hub = OfflineTelegram()
    said: list[str] = []
    chat = TerminalChat(hub, CHAT, write=said.append)
    wait = PositionWait(chat)
    assert not wait.holding()  # nothing open
    wait.opened()
    assert wait.holding() and wait.holding()
    assert said == ["=== demo: a position is open, so the replay waits: try /positions and /close BTCUSDT. Press "
                    "Enter on an empty line to let the market run."]  # said once
    await chat.handle_line("/positions")  # a command does not release it: try /close next
    assert wait.holding()
    await chat.handle_line("")
    assert not wait.holding()  # Enter: the market runs
    wait.opened()  # the next fill waits again
    assert wait.holding()
    wait.closed()  # closed by /close or by its stop
    assert not wait.holding()
