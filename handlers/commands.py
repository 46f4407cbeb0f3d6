"""Chat commands: one table (name, args, help, handler) drives registration and /help; thin parse → service → render."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import ContextTypes

from handlers.buttons import markup
from handlers.deps import Deps, get_deps
from handlers.optimize import cmd_optimize
from tradebot.backtest.remote import MAX_DAYS, parse_days
from tradebot.chart import render_chart
from tradebot.config import INTERVALS
from tradebot.errors import ArgumentError, AuthError, BybitAPIError, ExchangeError, RetryableError, UserError
from tradebot.formatting import (
    esc,
    render_balance,
    render_close_ask,
    render_help,
    render_pnl,
    render_positions,
    render_status,
    render_stop_all_ask,
    render_trades,
    signal_block,
    split_message,
)
from tradebot.intents import Button, ButtonAction, Buttons
from tradebot.optimize.remote import MAX_DAYS as OPTIMIZE_MAX_DAYS
from tradebot.optimize.remote import MAX_TRIALS as OPTIMIZE_MAX_TRIALS
from tradebot.readings import interval_label
from tradebot.service import parse_symbol

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context, Deps, list[str]], Awaitable[str | None]]


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    help: str
    run: Handler
    min_args: int = 0
    max_args: int = 0
    allowed: str = "no arguments"

    @property
    def usage(self) -> str:
        """One line: the syntax and, in plain words, what each argument may be."""
        return f"Usage: /{self.name}{' ' + self.args if self.args else ''} — {self.allowed}."


def who(update: Update) -> str:
    user = update.effective_user
    return f"@{user.username}" if user and user.username else str(user.id if user else "?")


def origin(update: Update) -> str | None:
    """The asking chat as the core's opaque origin: it gets the reply, so the broadcast alert skips it."""
    return str(update.effective_chat.id) if update.effective_chat else None


async def reply(update: Update, text: str, buttons: Buttons | None = None) -> None:
    """Send ``text`` (HTML) as one or more messages; buttons go on the last one."""
    message = update.effective_message
    assert message is not None
    parts = split_message(text)
    for i, part in enumerate(parts):
        await message.reply_text(part, parse_mode=ParseMode.HTML,
                                 reply_markup=markup(buttons or []) if i == len(parts) - 1 else None)


async def cmd_help(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    await reply(update, render_help(deps.service.overview(), [(c.name, c.args, c.help) for c in COMMANDS]))
    return "ok"


async def cmd_status(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    await reply(update, render_status(await deps.service.status()))
    return "ok"


async def cmd_positions(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    rows = await deps.service.positions()
    await reply(update, render_positions(rows))
    return f"{len(rows)} position(s)"


async def cmd_pnl(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    await reply(update, render_pnl(await deps.service.pnl(args[0] if args else "today")))
    return "ok"


async def cmd_balance(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    await reply(update, render_balance(await deps.service.balance()))
    return "ok"


async def cmd_trades(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    if args and not args[0].isdigit():
        raise ArgumentError(f"{args[0]!r} is not a whole number.")
    await reply(update, render_trades(await deps.service.trades(int(args[0]) if args else 10)))
    return "ok"


async def cmd_signal(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    sig = await deps.service.signal(args[0])
    await reply(update, signal_block(sig, detail=True, params=deps.cfg.strategy))
    return f"{sig.action} {sig.score:+.2f}"


async def cmd_chart(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    data = await deps.service.chart_data(args[0], args[1] if len(args) > 1 else None)
    message = update.effective_message
    assert message is not None
    await message.reply_chat_action(ChatAction.UPLOAD_PHOTO)
    bb = deps.cfg.strategy.bbands
    png = await asyncio.to_thread(render_chart, data, deps.cfg.strategy.ema.fast, deps.cfg.strategy.ema.slow,
                                  bb.period, bb.nbdev)
    await message.reply_photo(png, caption=f"<b>{esc(data.symbol)}</b> {esc(interval_label(data.interval))} · "
                              "EMAs, Bollinger, volume; ▲▼ entries, ✕ exits (green profit, red loss); SL/TP",
                              parse_mode=ParseMode.HTML)
    return f"{len(png)} bytes"


async def cmd_stop(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    if not args:
        out = await deps.service.pause(who(update), origin(update))
        await reply(update, esc(out.text))
        return out.status
    if args[0].lower() != "all":
        raise ArgumentError(f"{args[0]!r} is not 'all'.")
    token, positions = await deps.service.request_stop_all()
    await reply(update, render_stop_all_ask(positions),
                [[("⚠️ Yes, close all", Button(ButtonAction.STOP_ALL, token)), ("Cancel", Button(ButtonAction.CANCEL, token))]])
    return "asked"


async def cmd_resume(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    out = await deps.service.resume(who(update), origin(update))
    await reply(update, esc(out.text))
    return out.status


async def cmd_close(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    symbol = parse_symbol(args[0])
    try:
        token, position = await deps.service.request_close(symbol)
    except BybitAPIError as exc:  # e.g. a symbol the exchange does not list: a one-line answer, not an error report
        if symbol in deps.cfg.bot.symbols or isinstance(exc, AuthError | RetryableError):
            raise
        raise UserError(f"No open {symbol} position: {symbol} is not traded by this bot "
                        f"(traded: {', '.join(deps.cfg.bot.symbols)}).") from exc
    ask = render_close_ask(position.symbol, position)
    await reply(update, ask.text, [[(f"Close {position.symbol}", Button(ButtonAction.CLOSE, token)),
                                       ("Cancel", Button(ButtonAction.CANCEL, token))]])
    return "asked"


async def cmd_mode(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    out = await deps.service.set_mode(args[0])
    await reply(update, esc(out.text))
    return out.text


async def cmd_risk(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    out = await deps.service.set_risk(args[0])
    await reply(update, esc(out.text))
    return out.text


async def cmd_backtest(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    """Run in the background: the trading loop and other commands keep going; the result arrives later."""
    symbol, days = parse_symbol(args[0]), parse_days(args[1])
    message = update.effective_message
    assert message is not None
    await reply(update, f"⏳ Backtesting {esc(symbol)} over the last {days} day(s)… the result will follow.")

    async def run() -> None:
        try:
            report = await deps.service.backtest(symbol, days)
            head, _, rest = report.summary.partition("\nSettings:")  # the caption holds ≤ 1024 characters
            await message.reply_photo(report.png, caption=f"<pre>{esc(head)[:1000]}</pre>", parse_mode=ParseMode.HTML)
            details = f"Settings:{rest}" if rest else ""
            if len(details) <= 3500:  # settings, funding and every pause: one message under 4096 once escaped
                if details:
                    await message.reply_text(f"<pre>{esc(details)}</pre>", parse_mode=ParseMode.HTML)
            else:  # many pauses: the start in chat, the whole report as a file
                cut = details[:3500].rsplit("\n", 1)[0]
                await message.reply_text(f"<pre>{esc(cut)}</pre>\n… the full report is in the attached file.",
                                         parse_mode=ParseMode.HTML)
                await message.reply_document(report.summary.encode(), filename=f"backtest_{symbol}_{days}d.txt")
        except (UserError, ExchangeError) as exc:
            await message.reply_text(f"Backtest failed: {esc(str(exc))}", parse_mode=ParseMode.HTML)

    context.application.create_task(run(), update=update)
    return "started"


SYMBOL = "SYMBOL: a USDT perpetual like BTCUSDT (or just BTC)"
COMMANDS: list[Command] = [
    Command("start", "", "what the bot is doing, and the commands", cmd_help),
    Command("help", "", "this overview", cmd_help),
    Command("status", "", "running or paused, last tick and score per symbol, positions, today's PnL", cmd_status),
    Command("positions", "", "open positions: size, entry, mark, PnL, SL/TP, trailing", cmd_positions),
    Command("pnl", "[today|7d|30d|all]", "realised PnL, win rate, profit factor, drawdown, per symbol", cmd_pnl,
            0, 1, "the period: today (default), 7d, 30d or all"),
    Command("balance", "", "equity, available balance, margin in use", cmd_balance),
    Command("trades", "[N]", "last N closed trades (default 10) with exit reasons", cmd_trades, 0, 1,
            "N: how many trades, a whole number from 1 to 100 (default 10)"),
    Command("signal", "SYMBOL", "compute the current signal now, with its breakdown", cmd_signal, 1, 1, SYMBOL),
    Command("chart", "SYMBOL [interval]", "candle chart: EMAs, Bollinger, volume, trades, SL/TP", cmd_chart, 1, 2,
            f"{SYMBOL}; interval in minutes {' '.join(i for i in INTERVALS if i.isdigit())}, or 1h, 4h, D "
            "(default: the bot's)"),
    Command("stop", "[all]", "pause new entries (positions keep TP/SL); 'all' also closes everything", cmd_stop,
            0, 1, "nothing to pause new entries, or 'all' to also close every position (asks first)"),
    Command("resume", "", "allow new entries again", cmd_resume),
    Command("close", "SYMBOL", "close one position at market (asks first)", cmd_close, 1, 1, SYMBOL),
    Command("mode", "auto|confirm", "trade on its own, or ask before every entry", cmd_mode, 1, 1,
            "auto (trades on its own) or confirm (asks before every entry)"),
    Command("risk", "PCT", "risk per trade, % of balance (0 < PCT ≤ 10)", cmd_risk, 1, 1,
            "PCT: % of the balance risked per trade, a number above 0 and at most 10 (e.g. /risk 1.5)"),
    Command("backtest", "SYMBOL DAYS", "replay history through the strategy", cmd_backtest, 2, 2,
            f"{SYMBOL}; DAYS: a whole number from 1 to {MAX_DAYS}"),
    Command("optimize", "SYMBOL DAYS TRIALS", "walk-forward parameter search; Apply the best settings",
            cmd_optimize, 3, 3, f"{SYMBOL}; DAYS: a whole number from 1 to {OPTIMIZE_MAX_DAYS}; TRIALS: a whole "
            f"number from 1 to {OPTIMIZE_MAX_TRIALS}"),
]
COMMAND_BY_NAME = {c.name: c for c in COMMANDS}


def make_handler(command: Command) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """Check the argument count, run the command, audit who/what/result (UserError → error handler reply)."""

    async def handle(update: Update, context: Context) -> None:
        deps = get_deps(context)
        args = list(context.args or [])
        result = "error"
        try:
            if not command.min_args <= len(args) <= command.max_args:
                raise UserError(command.usage)
            try:
                result = await command.run(update, context, deps, args) or "ok"
            except ArgumentError as exc:  # a bad argument: what was wrong, then the usage and allowed range
                raise UserError(f"{exc} {command.usage}") from None
        except UserError as exc:
            result = f"refused: {exc}"
            raise
        finally:
            chat, user = update.effective_chat, update.effective_user
            await deps.service.audit(kind="command", action=f"/{command.name}", allowed=True,
                               user_id=user.id if user else None, chat_id=chat.id if chat else None,
                               args=" ".join(args) or None, result=result)

    return handle


async def unknown(update: Update, context: Context) -> None:
    """Unknown command or plain text from an allowed chat."""
    message = update.effective_message
    assert message is not None
    text = message.text or ""
    hint = (f"Unknown command {esc(text.split()[0])}. Send /help for the list." if text.startswith("/")
            else "I only understand commands. Send /help for the list.")
    await message.reply_text(hint, parse_mode=ParseMode.HTML)
    await get_deps(context).service.audit(kind="command" if text.startswith("/") else "message", action="unknown",
                                    allowed=True, user_id=update.effective_user.id if update.effective_user else None,
                                    chat_id=message.chat_id, args=text[:200], result="hint")
