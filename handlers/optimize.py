"""/optimize SYMBOL DAYS TRIALS in the background (one progress message edited as trials finish) and its Apply flow."""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import CallbackQuery, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers.buttons import markup
from handlers.deps import Deps
from tradebot.errors import ExchangeError, UserError
from tradebot.formatting import esc
from tradebot.intents import Button, ButtonAction, Buttons
from tradebot.optimize.remote import optimize_recent, parse_args
from tradebot.overrides import as_plain
from tradebot.service import parse_symbol

log = logging.getLogger("handlers.optimize")
Context = ContextTypes.DEFAULT_TYPE
RUNNING_KEY = "optimize_running"
EDIT_EVERY = 2.0  # seconds between progress edits (Telegram allows about one edit per second per chat)
MAX_TEXT = 3800


def _progress_text(symbol: str, days: int, done: int, total: int, best: float | None, started: float) -> str:
    elapsed = time.monotonic() - started
    eta = f", about {elapsed / done * (total - done):.0f} s left" if 0 < done < total else ""
    best_txt = f" · best out-of-sample score {best:.3f}" if best is not None else ""
    return f"⏳ Optimizing {esc(symbol)} over {days} day(s): {done}/{total} trials{best_txt}{eta}"


async def cmd_optimize(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    """Search in a worker thread: the trading loop and the other commands keep going."""
    symbol = parse_symbol(args[0])
    days, trials = parse_args(args[1], args[2])
    app = context.application
    if app.bot_data.get(RUNNING_KEY):
        raise UserError("An optimization is already running; wait for its result.")
    message = update.effective_message
    assert message is not None
    progress_msg = await message.reply_text(_progress_text(symbol, days, 0, trials, None, time.monotonic()),
                                            parse_mode=ParseMode.HTML)
    app.bot_data[RUNNING_KEY] = True
    loop = asyncio.get_running_loop()
    started, shown = time.monotonic(), {"at": 0.0, "done": 0}

    async def edit(done: int, total: int, best: float | None) -> None:
        if done <= shown["done"]:
            return
        shown["done"] = done
        try:
            await progress_msg.edit_text(_progress_text(symbol, days, done, total, best, started),
                                         parse_mode=ParseMode.HTML)
        except TelegramError as exc:  # a missed progress edit is harmless
            log.info("optimize progress edit failed: %s", exc)

    def on_progress(done: int, total: int, best: float | None) -> None:  # called from the worker thread
        now = time.monotonic()
        if done < total and now - shown["at"] < EDIT_EVERY:
            return
        shown["at"] = now
        asyncio.run_coroutine_threadsafe(edit(done, total, best), loop)

    async def run() -> None:
        try:
            end_ms = int(deps.engine.now_for(symbol).timestamp() * 1000)
            out = await optimize_recent(deps.client, deps.cfg.optimize, deps.engine.risk, deps.engine.strategy,
                                        deps.cfg.bot.interval, deps.cfg.bot.candles, symbol, days, trials, end_ms,
                                        on_progress)
            await _finish(message, progress_msg, deps, symbol, trials, out.summary, out.png, out.changes)
        except (UserError, ExchangeError, ValueError) as exc:
            await progress_msg.edit_text(f"Optimize failed: {esc(str(exc))}", parse_mode=ParseMode.HTML)
        finally:
            app.bot_data[RUNNING_KEY] = False

    app.create_task(run(), update=update)
    return "started"


async def _finish(message: Message, progress_msg: Message, deps: Deps, symbol: str, trials: int, summary: str,
                  png: bytes, changes: dict[str, object]) -> None:
    await progress_msg.edit_text(f"✅ Optimized {esc(symbol)}: {trials} trial(s) done. Result below.",
                                 parse_mode=ParseMode.HTML)
    head = summary.split("\n\n")[0]
    await message.reply_photo(png, caption=f"<pre>{esc(head[:900])}</pre>", parse_mode=ParseMode.HTML)
    text = summary if len(summary) <= MAX_TEXT else summary[:MAX_TEXT] + "\n…(cut; run bot.py optimize for all)"
    buttons: Buttons = []
    if changes:
        pid = await deps.service.save_proposal(symbol, changes)
        buttons = [[("Apply…", Button(ButtonAction.OPTIMIZE_SHOW, pid))]]
    else:
        text += "\n\nNothing to apply: no trial qualified, or the best one uses your current settings."
    await message.reply_text(f"<pre>{esc(text)}</pre>", parse_mode=ParseMode.HTML, reply_markup=markup(buttons))


def _value(v: object) -> str:
    v = as_plain(v)
    return f"{v:g}" if isinstance(v, float) else str(v)


async def optimize_button(query: CallbackQuery, deps: Deps, button: Button, by: str) -> str:
    """OPTIMIZE_SHOW (a proposal id): show the changes and ask; OPTIMIZE_APPLY (a token): apply them (once)."""
    message, rest = query.message, button.ref
    if button.action is ButtonAction.OPTIMIZE_SHOW:
        if message is None:  # a tap on an inline-mode message, which this bot never sends
            await query.answer()
            return "no message"
        try:
            diff = deps.service.setting_diff(await deps.service.proposal(rest))
        except UserError as exc:
            await query.answer(str(exc)[:200], show_alert=True)
            return f"refused: {exc}"
        await query.answer()
        if not diff:
            await query.get_bot().send_message(message.chat.id, "The live bot already uses these settings.")
            return "nothing to apply"
        token = await deps.service.new_token(ButtonAction.OPTIMIZE_APPLY, rest)
        lines = "\n".join(f"• <code>{esc(p)}</code>: {esc(_value(a))} → <b>{esc(_value(b))}</b>" for p, a, b in diff)
        await query.get_bot().send_message(
            message.chat.id,
            f"Apply these settings to the live bot? They take effect from the next tick, for every symbol it "
            f"trades, and are kept across restarts (like /risk).\n{lines}", parse_mode=ParseMode.HTML,
            reply_markup=markup([[("✅ Apply", Button(ButtonAction.OPTIMIZE_APPLY, token)),
                                  ("Cancel", Button(ButtonAction.CANCEL, token))]]))
        return f"asked: {len(diff)} change(s)"
    payload = await deps.service.take_token(rest, ButtonAction.OPTIMIZE_APPLY)
    if payload is None:
        await query.answer("This button has expired or was already used.", show_alert=True)
        return "stale token"
    try:
        changes = await deps.service.proposal(payload["symbol"])
        out = await deps.service.apply_settings(changes, by)
    except UserError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return f"refused: {exc}"
    await query.answer("Applied.")
    html = message.text_html if isinstance(message, Message) and message.text else ""
    await query.edit_message_text(f"{html}\n\n<b>Applied</b> ({esc(by)}): {esc(out.text)}", parse_mode=ParseMode.HTML)
    return f"{out.status}: {out.text}"
