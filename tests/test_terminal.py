"""Tests for the --demo terminal chat: rendering of bot output and mapping of typed input to updates."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from proving.telegram.hub import OfflineTelegram, build_offline_application
from proving.telegram.types import SentMessage
from proving.terminal import TerminalChat, render_markdown, stdin_lines, visible_text

CHAT = 7
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("✅ Approve", callback_data="ok:1"),
                                  InlineKeyboardButton("❌ Reject", callback_data="no:1")],
                                 [InlineKeyboardButton("Docs", url="https://example.org/docs")]])


@pytest.fixture
def hub() -> OfflineTelegram:
    return OfflineTelegram()


@pytest.fixture
def out() -> list[str]:
    return []


def demo_app(hub: OfflineTelegram) -> Application:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("<b>Signal</b> BTC long @ 65&#160;000", parse_mode=ParseMode.HTML,
                                                  reply_markup=KEYBOARD)

    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("Order placed" if update.callback_query.data == "ok:1" else None)
        await update.callback_query.edit_message_text(f"Decision: <code>{update.callback_query.data}</code>",
                                                      parse_mode=ParseMode.HTML)

    async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(f"you said {update.effective_message.text!r}")

    app = build_offline_application(hub).build()
    app.add_handlers([CommandHandler("start", start), CallbackQueryHandler(press),
                      MessageHandler(filters.TEXT & ~filters.COMMAND, text)])
    return app


async def test_renders_html_buttons_edits_and_toasts(hub: OfflineTelegram, out: list[str]) -> None:
    TerminalChat(hub, CHAT, write=out.append)
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        msg = await bot.send_message(CHAT, "<b>PnL</b> &amp; <i>risk</i>\n<pre>a &lt; b</pre>\n"
                                     '<a href="https://t.me/x">chart</a>', parse_mode=ParseMode.HTML,
                                     reply_markup=KEYBOARD)
        await bot.send_message(CHAT + 1, "other chat is not shown")
        await bot.edit_message_text("<i>done</i>", CHAT, msg.message_id, parse_mode=ParseMode.HTML)
        query = Update.de_json(hub.push_callback(CHAT, "ok:1", msg.message_id), bot).callback_query
        await query.answer("Careful!", show_alert=True)
        await bot.delete_message(CHAT, msg.message_id)
    assert out == [
        "🤖 PnL & risk\n   a < b\n   chart (https://t.me/x)\n"
        "   [1] ✅ Approve  [2] ❌ Reject\n   [↗ Docs: https://example.org/docs]",
        "✎ (edited) done",
        "⚠ Careful!",
        f"✗ (message {msg.message_id} deleted)",
    ]


async def test_photo_and_document_are_saved(hub: OfflineTelegram, out: list[str], tmp_path: Path) -> None:
    chat = TerminalChat(hub, CHAT, write=out.append, out_dir=tmp_path / "media")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        photo = await bot.send_photo(CHAT, png, caption="<b>BTC</b> 4h", parse_mode=ParseMode.HTML)
        await bot.edit_message_caption(CHAT, photo.message_id, caption="BTC 1d")
        await bot.send_document(CHAT, b"x,y\n", filename="../trades.csv")
        chat.close()
        await bot.send_message(CHAT, "not rendered after close")
    path = tmp_path / "media" / f"chat{CHAT}_msg{photo.message_id}.png"
    doc_path = tmp_path / "media" / f"chat{CHAT}_msg{photo.message_id + 1}_trades.csv"
    assert out == [f"🤖 [photo: {len(png)} bytes saved to {path}]\n   BTC 4h",
                   f"✎ (edited) [photo: {len(png)} bytes saved to {path}]\n   BTC 1d",
                   f"🤖 [document trades.csv: 4 bytes saved to {doc_path}]"]
    assert path.read_bytes() == png and doc_path.read_bytes() == b"x,y\n"


async def test_input_mapping(hub: OfflineTelegram, out: list[str]) -> None:
    chat = TerminalChat(hub, CHAT, write=out.append)
    assert chat.resolve("1") == ("text", "1")  # no buttons yet: plain text
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        old = await bot.send_message(CHAT, "old", reply_markup=InlineKeyboardMarkup.from_button(
            InlineKeyboardButton("Refresh", callback_data="refresh")))
        msg = await bot.send_message(CHAT, "proposal", reply_markup=KEYBOARD)
        await bot.send_message(CHAT, "tick")  # no buttons: does not steal the focus
        first, current = hub.sent(CHAT)[0], hub.sent(CHAT)[1]
        assert "[1] Refresh" in out[0] and "[2] ✅ Approve  [3] ❌ Reject" in out[1]  # numbers unique per session
        for line in ("2", "approve", "Approve", " ✅ APPROVE ", "✅Approve"):
            assert chat.resolve(line) == ("callback", (current, "✅ Approve", "ok:1")), line
        assert chat.resolve("3") == ("callback", (current, "❌ Reject", "no:1"))
        assert chat.resolve("reject")[1][2] == "no:1"
        assert chat.resolve("4") == ("text", "4")  # the url button has no number
        assert chat.resolve("1") == ("callback", (first, "Refresh", "refresh"))  # an older open card by number
        assert chat.resolve("refresh") == ("callback", (first, "Refresh", "refresh"))  # ...and by label
        assert chat.resolve("\\1") == ("text", "1")
        assert chat.resolve("/start now") == ("command", "/start now")
        assert chat.resolve("   ") == ("ignore", None)
        await bot.edit_message_text("proposal\n⌛ Expired: nothing was traded.", CHAT, msg.message_id)
        for line in ("2", "approve"):  # the card is closed: its buttons are stale, never another card's
            kind, note = chat.resolve(line)
            assert kind == "stale" and "[2] ✅ Approve" in note and "stale" in note and "Expired" in note, note
        assert chat.resolve("1") == ("callback", (hub.sent(CHAT)[0], "Refresh", "refresh"))
        await bot.edit_message_text("old, edited", CHAT, old.message_id)
        assert chat.resolve("1")[0] == "stale"
        newer = await bot.send_message(CHAT, "new card", reply_markup=KEYBOARD)
        assert "[4] ✅ Approve  [5] ❌ Reject" in out[-1]
        assert chat.resolve("2")[0] == "stale"  # "2" never answers the newer card
        assert chat.resolve("approve")[1][0].message_id == newer.message_id  # a label: the card printed last
        assert chat.resolve("refresh")[0] == "stale"
        await bot.edit_message_text("proposal, expired again", CHAT, msg.message_id)  # printed below the newer card
        kind, note = chat.resolve("approve")
        assert kind == "stale" and "[2] ✅ Approve" in note  # its label is stale: it never answers the newer card
        assert chat.resolve("4") == ("callback", (hub.sent(CHAT)[-1], "✅ Approve", "ok:1"))  # the number does


async def test_feed_drives_the_real_application(hub: OfflineTelegram, out: list[str]) -> None:
    app = demo_app(hub)
    chat = TerminalChat(hub, CHAT, write=out.append, echo=True)
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    async def typed() -> AsyncIterator[str]:
        while (line := await lines.get()) is not None:
            yield line

    async with app:
        await app.start()
        await app.updater.start_polling(timeout=1, poll_interval=0)
        feeder = asyncio.create_task(chat.feed(typed()))
        await lines.put("/start")
        await hub.wait_for(lambda m: bool(m.buttons))
        await lines.put("")
        await lines.put("approve")
        await hub.wait_for(lambda m: m.plain == "Decision: ok:1")
        await lines.put("hello bot")
        await hub.wait_for(lambda m: m.text == "you said 'hello bot'")
        await lines.put(None)  # EOF
        await asyncio.wait_for(chat.eof.wait(), 1)
        await feeder
        await app.updater.stop()
        await app.stop()
    assert out == ["you ▸ /start",
                   "🤖 Signal BTC long @ 65\xa0000\n   [1] ✅ Approve  [2] ❌ Reject\n"
                   "   [↗ Docs: https://example.org/docs]",
                   "you ▸ [✅ Approve]", "💬 Order placed", "✎ (edited) Decision: ok:1",
                   "you ▸ hello bot", "🤖 you said 'hello bot'"]


async def test_piped_script_with_settle(hub: OfflineTelegram, out: list[str]) -> None:
    app = demo_app(hub)
    chat = TerminalChat(hub, CHAT, write=out.append, settle=0.05, settle_timeout=2)
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=1, poll_interval=0)
        await chat.feed(["/start", "2", "2", "two"])  # the second "2" is on a decided card: stale, not sent
        await hub.wait_for(lambda m: m.text == "you said 'two'")
        await app.updater.stop()
        await app.stop()
    assert chat.eof.is_set()
    assert out[1] == "✎ (edited) Decision: no:1"
    assert out[2].startswith("⚠ [2] ❌ Reject belongs to a card that is no longer open (Decision: no:1)")
    assert out[3:] == ["🤖 you said 'two'"]
    assert [a.text for a in hub.answers] == [None]


async def test_stdin_lines_reads_a_pipe_until_eof() -> None:
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, b"/start\r\n1\n" + "héllo".encode()[:2])
        lines = stdin_lines(read_fd)
        assert await asyncio.wait_for(anext(lines), 1) == "/start"
        assert await asyncio.wait_for(anext(lines), 1) == "1"
        os.write(write_fd, "héllo".encode()[2:] + b"\n\nlast without newline")
        os.close(write_fd)
        write_fd = -1
        rest = [line async for line in lines]
        assert rest == ["héllo", "", "last without newline"]
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def test_markdown_and_reply_keyboard_rendering(hub: OfflineTelegram) -> None:
    assert render_markdown(r"*Bold* \_x\_ [site](https://a\.b) 1\.5", v2=True) == "Bold _x_ site (https://a.b) 1.5"
    assert render_markdown("*b* _i_ `c`", v2=False) == "b i c"
    msg = SentMessage(1, CHAT, text="*hi*", plain="*hi*", parse_mode="MarkdownV2",
                      reply_markup=ReplyKeyboardMarkup([[KeyboardButton("Status"), "Help"]]).to_dict())
    assert visible_text(msg) == "hi"
    assert TerminalChat(hub, CHAT, write=lambda _: None).render(msg) == "🤖 hi\n   ⌨ Status | Help"


async def test_echo_taps_only_shows_the_button_a_line_resolved_to(hub: OfflineTelegram, out: list[str]) -> None:
    """At a terminal the typed line is already on screen; which button it pressed is not."""
    chat = TerminalChat(hub, CHAT, write=out.append, echo_taps=True)
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        await bot.send_message(CHAT, "card", reply_markup=KEYBOARD)
        await chat.handle_line("hello")
        await chat.handle_line("1")
    assert out[1:] == ["you ▸ [✅ Approve]"]
