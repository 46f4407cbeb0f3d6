"""/optimize SYMBOL DAYS TRIALS in the background (one progress message edited as trials finish) and its Apply flow."""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import CallbackQuery, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers import heavy
from handlers.buttons import markup
from handlers.deps import Deps
from handlers.render.formatting import esc
from tradebot.chat.heavy import Ticket
from tradebot.chat.service import parse_symbol
from tradebot.errors import ExchangeError, UserError
from tradebot.intents import Button, ButtonAction, Buttons
from tradebot.optimize.remote import optimize_recent, parse_args
from tradebot.outcome import Outcome
from tradebot.settings.overrides import as_plain
from tradebot.states import OutcomeStatus

log = logging.getLogger("handlers.optimize")
Context = ContextTypes.DEFAULT_TYPE
EDIT_EVERY = 2.0  # seconds between progress edits (Telegram allows about one edit per second per chat)
MAX_TEXT = 3800


def _progress_text(symbol: str, days: int, done: int, total: int, best: float | None, started: float) -> str:
    elapsed = time.monotonic() - started
    eta = f", about {elapsed / done * (total - done):.0f} s left" if 0 < done < total else ""
    best_txt = f" · best out-of-sample score {best:.3f}" if best is not None else ""
    return f"⏳ Optimizing {esc(symbol)} over {days} day(s): {done}/{total} trials{best_txt}{eta}"


async def cmd_optimize(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    """Through the heavy queue: the study runs in its worker process; the trading loop and other commands go on."""
    symbol = parse_symbol(args[0])
    days, trials = parse_args(args[1], args[2])
    message = update.effective_message
    assert message is not None
    loop = asyncio.get_running_loop()
    started, shown = time.monotonic(), {"at": 0.0, "done": 0, "final": 0}
    sent: list[Message] = []  # the progress message, once announced
    queued: list[bool] = []  # whether it had to wait for its turn

    edits = asyncio.Lock()  # one edit at a time: no progress edit lands after the result's

    async def edit(done: int, total: int, best: float | None) -> None:
        async with edits:
            if done <= shown["done"] or shown["final"]:
                return
            shown["done"] = done
            try:
                await sent[0].edit_text(_progress_text(symbol, days, done, total, best, started),
                                        parse_mode=ParseMode.HTML)
            except TelegramError as exc:  # a missed progress edit is harmless
                log.info("optimize progress edit failed: %s", exc)

    def on_progress(done: int, total: int, best: float | None) -> None:  # called on the loop while polling
        now = time.monotonic()
        if done < total and now - shown["at"] < EDIT_EVERY:
            return
        shown["at"] = now
        asyncio.run_coroutine_threadsafe(edit(done, total, best), loop)

    async def announce(ticket: Ticket) -> None:
        text = (f"⏳ Optimizing {esc(symbol)} over {days} day(s): {ticket.note}; it starts when its turn comes."
                if ticket.queued else _progress_text(symbol, days, 0, trials, None, started))
        sent.append(await message.reply_text(text, parse_mode=ParseMode.HTML))
        queued.append(ticket.queued)

    async def run() -> None:
        nonlocal started
        progress_msg = sent[0]
        try:
            if queued[0]:  # its turn came: the count starts now
                started = time.monotonic()
                await progress_msg.edit_text(_progress_text(symbol, days, 0, trials, None, started),
                                             parse_mode=ParseMode.HTML)
            end_ms = int(deps.engine.market.now_for(symbol).timestamp() * 1000)
            out = await optimize_recent(deps.client, deps.cfg.optimize, deps.engine.settings.risk, deps.engine.settings.strategy,
                                        deps.cfg.bot.interval, deps.cfg.bot.candles, symbol, days, trials, end_ms,
                                        on_progress, cpu=deps.service.heavy.cpu, execution=deps.cfg.execution)
            async with edits:  # a late "6/6 trials" edit must not overwrite the result (seen under load)
                shown["final"] = 1
            await _finish(message, progress_msg, deps, symbol, trials, out.summary, out.png, out.changes, out.warning)
        except (UserError, ExchangeError, ValueError) as exc:
            async with edits:
                shown["final"] = 1
            await progress_msg.edit_text(f"Optimize failed: {esc(str(exc))}", parse_mode=ParseMode.HTML)

    return await heavy.start(update, context, deps, "optimize", run, announce)


async def _finish(message: Message, progress_msg: Message, deps: Deps, symbol: str, trials: int, summary: str,
                  png: bytes, changes: dict[str, object], warning: str | None = None) -> None:
    done = (f"⚠ Optimized {esc(symbol)}: {trials} trial(s) done, and the best one LOSES money. Result below."
            if warning else f"✅ Optimized {esc(symbol)}: {trials} trial(s) done. Result below.")
    await progress_msg.edit_text(done, parse_mode=ParseMode.HTML)
    head = summary.split("\n\n")[0]
    await message.reply_photo(png, caption=f"<pre>{esc(head[:900])}</pre>", parse_mode=ParseMode.HTML)
    text = summary if len(summary) <= MAX_TEXT else summary[:MAX_TEXT] + "\n…(cut; run bot.py optimize for all)"
    buttons: Buttons = []
    if changes:
        pid = await deps.service.save_proposal(symbol, changes, warning)
        buttons = [[("⚠ Apply anyway…" if warning else "Apply…", Button(ButtonAction.OPTIMIZE_SHOW, pid))]]
    else:
        text += "\n\nNothing to apply: no trial qualified, or the best one uses your current settings."
    await message.reply_text(f"<pre>{esc(text)}</pre>", parse_mode=ParseMode.HTML, reply_markup=markup(buttons))


def _value(v: object) -> str:
    v = as_plain(v)
    return f"{v:g}" if isinstance(v, float) else str(v)


async def optimize_button(query: CallbackQuery, deps: Deps, button: Button, by: str) -> str:
    """OPTIMIZE_SHOW (a proposal id): show the changes and ask, on a card whose Apply and Cancel work once and in
    this chat only (a single-use token: the tap is handled by handlers/callbacks.py like every card's)."""
    message, rest = query.message, button.ref
    if message is None:  # a tap on an inline-mode message, which this bot never sends
        await query.answer()
        return "no message"
    try:
        proposal = await deps.service.proposal(rest)
        diff, warning = deps.service.setting_diff(proposal.changes), proposal.warning
    except UserError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return f"refused: {exc}"
    await query.answer()
    if not diff:
        await query.get_bot().send_message(message.chat.id, "The live bot already uses these settings.")
        return "nothing to apply"
    token = await deps.service.apply_token(rest, message.chat.id, step=1 if warning else 0)
    lines = "\n".join(f"• <code>{esc(p)}</code>: {esc(_value(a))} → <b>{esc(_value(b))}</b>" for p, a, b in diff)
    await query.get_bot().send_message(
        message.chat.id,
        f"Apply these settings to the live bot? They take effect from the next tick, for every symbol it "
        f"trades, and are kept across restarts (like /risk).\n{lines}{_loss(warning)}", parse_mode=ParseMode.HTML,
        reply_markup=markup([[("⚠ Apply losing settings…" if warning else "✅ Apply",
                               Button(ButtonAction.OPTIMIZE_APPLY, token)),
                              ("Cancel", Button(ButtonAction.CANCEL, token))]]))
    return f"asked: {len(diff)} change(s){' (losing)' if warning else ''}"


def _loss(warning: str | None) -> str:
    return (f"\n\n<b>{esc(warning)}</b>\nApplying them makes the live bot trade settings that lost money in this "
            "test; you will be asked once more." if warning else "")


async def ask_again(update: Update, deps: Deps, chat: int | None, proposal: str, warning: str) -> Outcome:
    """The first Apply of a result that lost money: nothing is applied; a second question, on its own single-use
    card bound to the chat, must be answered first."""
    token = await deps.service.apply_token(proposal, chat, step=2)
    assert chat is not None  # Apply cards are bound to their chat
    await update.get_bot().send_message(
        chat, f"⚠ <b>Second confirmation.</b> {esc(warning)}\nReally switch the live bot to these settings?",
        parse_mode=ParseMode.HTML,
        reply_markup=markup([[("⚠ Yes, apply the losing settings", Button(ButtonAction.OPTIMIZE_APPLY, token)),
                              ("Cancel", Button(ButtonAction.CANCEL, token))]]))
    return Outcome(OutcomeStatus.NOOP, "Not applied yet: a second confirmation is asked below.")
