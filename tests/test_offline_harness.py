"""Tests for the offline Bot API hub: the real PTB Application driven with fake network only."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from proving.telegram.hub import OfflineTelegram, build_offline_application
from proving.telegram.types import SentMessage, parse_html

CHAT = 42


def make_app(hub: OfflineTelegram, seen: Counter[str] | None = None, **builder: Any) -> Application:
    """A tiny bot: /start proposes a trade with buttons, a button press answers and edits, text echoes."""
    seen = seen if seen is not None else Counter()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen["start"] += 1
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("✅ Approve", callback_data="approve:7"),
                                          InlineKeyboardButton("❌ Reject", callback_data="reject:7")]])
        await update.effective_message.reply_text("<b>Trade #7</b> BTC &amp; ETH", parse_mode=ParseMode.HTML,
                                                  reply_markup=keyboard)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        seen[query.data] += 1
        await query.answer(f"got {query.data}")
        await query.edit_message_text(f"{query.message.text_html}\n<i>decision: {query.data}</i>",
                                      parse_mode=ParseMode.HTML)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen["text"] += 1
        await update.effective_message.reply_text(f"echo {update.effective_message.text}")

    app = build_offline_application(hub, **builder).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


@pytest.fixture
def hub() -> OfflineTelegram:
    return OfflineTelegram(bot_id=123, username="demo_bot")


async def test_polling_shape_full_roundtrip(hub: OfflineTelegram) -> None:
    seen: Counter[str] = Counter()
    app = make_app(hub, seen)

    async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
        await context.bot.send_message(CHAT, "tick")

    app.job_queue.run_repeating(tick, interval=0.1, first=0.05)
    async with app:
        assert app.bot.username == "demo_bot"
        await app.start()
        await app.updater.start_polling(timeout=1, poll_interval=0)
        hub.push_message(CHAT, "/start")
        proposal = await hub.wait_for(lambda m: bool(m.buttons))
        assert proposal.plain == "Trade #7 BTC & ETH"
        assert proposal.buttons == [[("✅ Approve", "approve:7"), ("❌ Reject", "reject:7")]]
        hub.push_callback(CHAT, hub.button(proposal, "approve"), proposal.message_id)
        edited = await hub.wait_for(lambda m: bool(m.edits))
        await hub.wait_for(lambda m: m.text == "tick")
        await app.updater.stop()
        await app.stop()
    assert edited is proposal and edited.buttons == []  # editing without reply_markup drops the keyboard
    assert edited.text == "<b>Trade #7</b> BTC &amp; ETH\n<i>decision: approve:7</i>"  # text_html round-trips
    assert edited.edits[0].text == "<b>Trade #7</b> BTC &amp; ETH"
    assert [(a.text, a.chat_id, a.message_id) for a in hub.answers] == [("got approve:7", CHAT, 1 + 1)]
    assert seen == Counter({"start": 1, "approve:7": 1})
    methods = [c.method for c in hub.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"] and "answerCallbackQuery" in methods


async def test_process_update_shape(hub: OfflineTelegram) -> None:
    seen: Counter[str] = Counter()
    app = make_app(hub, seen, updater=None)
    async with app:
        await app.process_update(Update.de_json(hub.push_message(CHAT, "/start"), app.bot))
        (proposal,) = hub.sent(CHAT)
        await app.process_update(Update.de_json(hub.push_callback(CHAT, "reject:7", proposal.message_id), app.bot))
        await app.process_update(Update.de_json(hub.push_message(CHAT, "hello"), app.bot))
    assert hub.messages_text(CHAT) == ["Trade #7 BTC & ETH\ndecision: reject:7", "echo hello"]
    assert hub.calls_for("answerCallbackQuery")[0]["text"] == "got reject:7"
    assert seen == Counter({"start": 1, "reject:7": 1, "text": 1})


async def test_no_update_is_delivered_twice(hub: OfflineTelegram) -> None:
    seen: Counter[str] = Counter()
    app = make_app(hub, seen)
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=1, poll_interval=0)
        for i in range(5):
            hub.push_message(CHAT, f"msg {i}")
            await asyncio.sleep(0.01 * (i % 2))
        await hub.wait_for(lambda m: m.text == "echo msg 4")
        assert await hub.wait_idle(quiet=0.1)
        await app.updater.stop()
        await app.stop()
    assert seen["text"] == 5
    assert sorted(hub.messages_text(CHAT)) == [f"echo msg {i}" for i in range(5)]
    offsets = [c.params.get("offset") for c in hub.calls if c.method == "getUpdates"]
    assert offsets == sorted(offsets, key=lambda o: o or 0)


async def test_get_updates_offset_timeout_and_limit(hub: OfflineTelegram) -> None:
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        ids = [hub.push_message(CHAT, f"m{i}")["update_id"] for i in range(3)]
        first = await bot.get_updates(limit=2)
        assert [u.update_id for u in first] == ids[:2]
        again = await bot.get_updates()  # not confirmed yet: redelivered, like Telegram
        assert [u.update_id for u in again] == ids
        assert [u.update_id for u in await bot.get_updates(offset=ids[1] + 1)] == ids[2:]
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await bot.get_updates(offset=ids[2] + 1, timeout=0.3) == ()
        assert 0.25 < loop.time() - start < 2
        waiter = asyncio.create_task(bot.get_updates(offset=ids[2] + 1, timeout=5))
        await asyncio.sleep(0.05)
        late = hub.push_message(CHAT, "late")
        assert [u.update_id for u in await asyncio.wait_for(waiter, 1)] == [late["update_id"]]


async def test_second_get_updates_terminates_the_first_with_conflict(hub: OfflineTelegram) -> None:
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.05)
        assert await bot.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await asyncio.wait_for(first, 1)


async def test_retry_after_is_retried_by_aioratelimiter(hub: OfflineTelegram,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22.x warns on int retry_after otherwise
    app = make_app(hub, rate_limiter=AIORateLimiter(max_retries=2))
    hub.fail_next("sendMessage", "retry_after", n=2, retry_after=0.05)
    async with app:
        await app.process_update(Update.de_json(hub.push_message(CHAT, "hello"), app.bot))
    assert len(hub.calls_for("sendMessage")) == 3  # two 429s, then success
    assert hub.messages_text(CHAT) == ["echo hello"]


async def test_retry_after_without_rate_limiter_raises(hub: OfflineTelegram,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        hub.fail_next("*", "retry_after", retry_after=3)  # "*" = any method except getUpdates
        with pytest.raises(TelegramError, match="Flood control exceeded") as info:
            await bot.send_message(CHAT, "x")
        assert info.value.retry_after.total_seconds() == 3
        assert (await bot.send_message(CHAT, "y")).text == "y"


async def test_conflict_in_polling_reaches_error_callback(hub: OfflineTelegram) -> None:
    app = make_app(hub)
    errors: list[TelegramError] = []
    conflict = asyncio.Event()

    def on_error(exc: TelegramError) -> None:  # sync callback, runs on the event loop
        errors.append(exc)
        if isinstance(exc, Conflict):
            conflict.set()  # a real bot would log and call app.stop_running() here

    hub.fail_next("getUpdates", "conflict")
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=1, poll_interval=0, error_callback=on_error)
        await asyncio.wait_for(conflict.wait(), 2)
        await app.updater.stop()
        await app.stop()
    assert isinstance(errors[0], Conflict) and "only one bot instance" in str(errors[0])


async def test_network_and_timeout_faults(hub: OfflineTelegram) -> None:
    hub.fail_next("sendMessage", "network")
    hub.fail_next("sendMessage", "timeout")
    hub.fail_next("sendMessage", "forbidden")
    with pytest.raises(ValueError):
        hub.fail_next("sendMessage", "bogus")
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        with pytest.raises(NetworkError, match="injected network"):
            await bot.send_message(CHAT, "a")
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "b")
        with pytest.raises(TelegramError, match="blocked by the user"):
            await bot.send_message(CHAT, "c")
        await bot.send_message(CHAT, "d")
    assert hub.messages_text(CHAT) == ["d"]
    assert [p["text"] for p in hub.calls_for("sendMessage")] == ["a", "b", "c", "d"]


async def test_send_photo_and_document_keep_bytes(hub: OfflineTelegram) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        msg = await bot.send_photo(CHAT, photo=png, caption="<b>BTC</b> 1h", parse_mode=ParseMode.HTML)
        assert msg.caption == "BTC 1h" and msg.photo[-1].file_size == len(png)
        again = await bot.send_photo(CHAT, photo=msg.photo[-1].file_id)  # re-send by file_id
        doc = await bot.send_document(CHAT, document=b"a,b\n1,2\n", filename="trades.csv")
        assert doc.document.file_name == "trades.csv"
        await bot.send_chat_action(CHAT, "upload_photo")
    photo, resent, document = hub.sent(CHAT)
    assert photo.photo == png and photo.caption == "<b>BTC</b> 1h" and photo.plain == "BTC 1h"
    assert resent.photo == png and again.message_id == resent.message_id
    assert document.document is not None and document.document.data == b"a,b\n1,2\n"
    uploaded = hub.calls_for("sendPhoto")[0]["photo"]
    assert uploaded.data == png and f"{len(png)} bytes" in repr(uploaded)


async def test_bot_api_errors_match_telegram(hub: OfflineTelegram) -> None:
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        with pytest.raises(BadRequest, match="(?i)can't parse entities: unsupported start tag \"br\""):
            await bot.send_message(CHAT, "a<br>b", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="(?i)unsupported start tag \"\""):
            await bot.send_message(CHAT, "price < 5", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await bot.send_message(CHAT, "  ")
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(CHAT, "x" * 4097)
        with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
            await bot.send_message(CHAT, "x", reply_markup=InlineKeyboardMarkup.from_button(
                InlineKeyboardButton("b", callback_data="d" * 65)))
        msg = await bot.send_message(CHAT, "same")
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text("same", CHAT, msg.message_id)
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("new", CHAT, 999)
        with pytest.raises(BadRequest, match="(?i)query id is invalid"):
            await bot.answer_callback_query("nope")
        assert await bot.delete_message(CHAT, msg.message_id)
        with pytest.raises(BadRequest, match="(?i)message to delete not found"):
            await bot.delete_message(CHAT, msg.message_id)
        with pytest.raises(InvalidToken, match="not emulated"):  # unknown method -> 404, as on Telegram
            await bot.get_chat(CHAT)
        hub.api["getChatMemberCount"] = lambda params, files: 3  # emulate an extra method
        assert await bot.get_chat_member_count(CHAT) == 3
        await bot.set_my_commands([("start", "Start"), ("status", "Status")])
        assert [c.command for c in await bot.get_my_commands()] == ["start", "status"]
    assert hub.sent(CHAT)[0].deleted and hub.messages_text(CHAT) == []


async def test_edit_reply_markup_and_callback_answer_once(hub: OfflineTelegram) -> None:
    events: list[tuple[str, int]] = []
    unsubscribe = hub.on_send(lambda kind, obj: events.append((kind, obj.message_id or 0)))
    app = make_app(hub, updater=None)
    async with app:
        await app.process_update(Update.de_json(hub.push_message(CHAT, "/start"), app.bot))
        (msg,) = hub.sent(CHAT)
        await app.bot.edit_message_reply_markup(CHAT, msg.message_id, reply_markup=None)
        assert msg.buttons == [] and msg.edits[-1].buttons
        update = Update.de_json(hub.push_callback(CHAT, "approve:7", msg.message_id), app.bot)
        await update.callback_query.answer()
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await update.callback_query.answer()
        unsubscribe()
        await app.bot.send_message(CHAT, "after unsubscribe")
    assert events == [("message", msg.message_id), ("edit", msg.message_id), ("answer", msg.message_id)]


async def test_wait_for_timeout_dumps_state(hub: OfflineTelegram) -> None:
    async with Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request()) as bot:
        await bot.send_message(CHAT, "only this")
        with pytest.raises(TimeoutError, match="only this"):
            await hub.wait_for(lambda m: m.text == "never", timeout=0.1)
    with pytest.raises(LookupError):
        hub.push_callback(CHAT, "x", message_id=999)
    with pytest.raises(KeyError, match="no callback button"):
        hub.button(SentMessage(1, CHAT), "Approve")


def test_update_shapes_and_chat_types(hub: OfflineTelegram) -> None:
    bot = Bot("123:OFFLINE", request=hub.request(), get_updates_request=hub.request())
    cmd = Update.de_json(hub.push_message(CHAT, "/status@demo_bot now"), bot)
    assert cmd.message.entities[0].type == "bot_command" and cmd.message.entities[0].length == 16
    assert cmd.effective_user.id == CHAT and cmd.effective_chat.type == "private"
    group = Update.de_json(hub.push_message(-100777, "hi", user_id=5, chat_type="supergroup"), bot)
    assert group.effective_chat.type == "supergroup" and group.effective_user.id == 5
    edited = Update.de_json(hub.push_edited_message(CHAT, cmd.message.message_id, "/status later"), bot)
    assert edited.edited_message.text == "/status later" and edited.edited_message.edit_date is not None
    post = Update.de_json(hub.push_channel_post(-100555, "news"), bot)
    assert post.channel_post.chat.type == "channel" and post.channel_post.from_user is None
    raw = Update.de_json(hub.push_update({"message": cmd.message.to_dict()}), bot)
    assert raw.update_id == post.update_id + 1 and hub.pending_updates() == 5


def test_parse_html_entities_use_utf16_offsets() -> None:
    text, entities = parse_html('📈 <b>up</b> <a href="https://x.io/?a=1&amp;b=2">link</a> '
                                '<pre><code class="language-py">x&lt;1</code></pre>')
    assert text == "📈 up link x<1"
    assert entities == [{"type": "bold", "offset": 3, "length": 2},
                        {"type": "text_link", "offset": 6, "length": 4, "url": "https://x.io/?a=1&b=2"},
                        {"type": "pre", "offset": 11, "length": 3, "language": "py"}]
