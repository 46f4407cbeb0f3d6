"""Chat commands: one table (name, args, help, handler) drives registration and /help; thin parse → service → render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import ContextTypes

from handlers import heavy
from handlers.chat import chat_of, origin, reply, who
from handlers.deps import Deps, get_deps
from handlers.optimize import cmd_optimize
from handlers.phone import cmd_close, cmd_long, cmd_short, cmd_sl, cmd_tp
from handlers.render.chart import render_chart
from handlers.render.formatting import (
    esc,
    render_balance,
    render_help,
    render_pnl,
    render_positions,
    render_status,
    render_stop_all_ask,
    render_trades,
    signal_block,
)
from handlers.render.readings import interval_label
from handlers.reports import cmd_performance, pnl_periods
from handlers.roles import ROLE_WORDS, Role, refused_command
from handlers.watch import cmd_symbols
from tradebot.backtest.remote import MAX_DAYS, parse_days
from tradebot.chat.heavy import Ticket
from tradebot.chat.reports import UNITS
from tradebot.chat.service import parse_interval, parse_symbol
from tradebot.errors import ArgumentError, ExchangeError, UserError
from tradebot.intents import Button, ButtonAction
from tradebot.optimize.remote import MAX_DAYS as OPTIMIZE_MAX_DAYS
from tradebot.optimize.remote import MAX_TRIALS as OPTIMIZE_MAX_TRIALS
from tradebot.parsing import ECHO_CHARS, shown, whole
from tradebot.settings.config import INTERVALS

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context, Deps, list[str]], Awaitable[str | None]]


@dataclass(frozen=True)
class Command:
    """One chat command. ``needs``: the role it requires (handlers/roles.py); owner unless declared otherwise, so a
    new command that trades or changes settings is safe by default and a read-only one says so."""

    name: str
    args: str
    help: str
    run: Handler
    min_args: int = 0
    max_args: int = 0
    allowed: str = "no arguments"
    needs: Role = Role.OWNER

    @property
    def usage(self) -> str:
        """One line: the syntax and, in plain words, what each argument may be."""
        return f"Usage: /{self.name}{' ' + self.args if self.args else ''} — {self.allowed}."


async def cmd_help(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    """What the bot is doing, and the commands this user may use here."""
    role = deps.access.role(update) or Role.VIEWER
    mine = [(c.name, c.args, c.help) for c in COMMANDS if role >= c.needs]
    await reply(update, render_help(deps.service.overview(), mine, ROLE_WORDS[role]))
    return role.name.lower()


async def cmd_status(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    await reply(update, render_status(await deps.service.status()))
    return "ok"


async def cmd_positions(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    rows = await deps.service.positions()
    await reply(update, render_positions(rows))
    return f"{len(rows)} position(s)"


async def cmd_pnl(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    if args and args[0].lower() in UNITS:  # a table per day, week or month
        return await pnl_periods(update, deps, args)
    if len(args) > 1:
        raise ArgumentError("A number of periods goes with daily, weekly or monthly only.")
    await reply(update, render_pnl(await deps.service.pnl(args[0] if args else "today")))
    return "ok"


async def cmd_balance(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    await reply(update, render_balance(await deps.service.client.wallet()))
    return "ok"


async def cmd_trades(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    try:
        n = whole(args[0]) if args else 10  # ASCII digits only: "²".isdigit() is True, int("١٠") is 10
    except ValueError:
        raise ArgumentError(f"{shown(args[0])} is not a whole number.") from None
    await reply(update, render_trades(await deps.service.trades(n)))
    return "ok"


async def cmd_signal(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    sig = await deps.service.signal(args[0])
    await reply(update, signal_block(sig, detail=True, params=deps.engine.settings.strategy))  # what the engine trades
    return f"{sig.action} {sig.score:+.2f}"


async def cmd_chart(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    """Through the heavy queue: the PNG is drawn in its worker process; the candles are read at the chart's turn."""
    symbol, interval = parse_symbol(args[0]), parse_interval(args[1]) if len(args) > 1 else None
    message = update.effective_message
    assert message is not None

    async def run() -> None:
        data = await deps.service.chart_data(symbol, interval)
        await message.reply_chat_action(ChatAction.UPLOAD_PHOTO)
        p = data.strategy or deps.engine.settings.strategy  # the live settings (/optimize's Apply included)
        png = await deps.service.heavy.cpu(render_chart, data, p.ema.fast, p.ema.slow, p.bbands.period,
                                           p.bbands.nbdev)
        await message.reply_photo(png, caption=f"<b>{esc(data.symbol)}</b> {esc(interval_label(data.interval))} · "
                                  "EMAs, Bollinger, volume; ▲▼ entries, ✕ exits (green profit, red loss); SL/TP",
                                  parse_mode=ParseMode.HTML)

    async def queued(ticket: Ticket) -> None:
        if ticket.queued:
            await reply(update, f"⏳ Chart of {esc(symbol)}: {ticket.note}; it will follow.")

    return await heavy.start(update, context, deps, "chart", run, queued)


async def cmd_stop(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    if not args:
        out = await deps.service.engine.pause(who(update), origin(update))
        await reply(update, esc(out.text))
        return out.status
    if args[0].lower() != "all":
        raise ArgumentError(f"{shown(args[0])} is not 'all'.")
    token, positions = await deps.service.request_stop_all(chat_of(update))
    await reply(update, render_stop_all_ask(positions),
                [[("⚠️ Yes, close all", Button(ButtonAction.STOP_ALL, token)), ("Cancel", Button(ButtonAction.CANCEL, token))]])
    return "asked"


async def cmd_resume(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    out = await deps.service.engine.resume(who(update), origin(update))
    await reply(update, esc(out.text))
    return out.status


async def cmd_mode(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    out = await deps.service.set_mode(args[0])
    await reply(update, esc(out.text))
    return out.text


async def cmd_risk(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    out = await deps.service.set_risk(args[0])
    await reply(update, esc(out.text))
    return out.text


async def cmd_backtest(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    """Through the heavy queue: the trading loop and other commands keep going; the result arrives later."""
    symbol, days = parse_symbol(args[0]), parse_days(args[1])
    message = update.effective_message
    assert message is not None

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

    async def started(ticket: Ticket) -> None:
        await reply(update, f"⏳ Backtesting {esc(symbol)} over the last {days} day(s)… "
                    f"{ticket.note + '; ' if ticket.queued else ''}the result will follow.")

    return await heavy.start(update, context, deps, "backtest", run, started)


AUDIT_ARGS = 200  # characters of a command's arguments kept in the audit log
SYMBOL = "SYMBOL: a USDT perpetual like BTCUSDT (or just BTC)"
VIEWER = Role.VIEWER  # read-only rows say so; every other row needs an owner (Command.needs' default)
COMMANDS: list[Command] = [
    Command("start", "", "what the bot is doing, and the commands", cmd_help, needs=VIEWER),
    Command("help", "", "this overview", cmd_help, needs=VIEWER),
    Command("status", "", "running or paused, last tick and score per symbol, positions, today's PnL", cmd_status,
            needs=VIEWER),
    Command("positions", "", "open positions: size, entry, mark, PnL, SL/TP, trailing", cmd_positions, needs=VIEWER),
    Command("pnl", "[today|7d|30d|all] or daily|weekly|monthly [N]", "realised PnL, win rate, profit factor, "
            "drawdown, per symbol; or a table of the last N days, weeks or months (UTC)", cmd_pnl, 0, 2,
            "the period: today (default), 7d, 30d or all; or daily, weekly or monthly and N, how many periods "
            "(1 to 60; default 7, 4, 6)", needs=VIEWER),
    Command("performance", "[chart]", "per symbol and per origin (signal or manual); 'chart': the equity PNG",
            cmd_performance, 0, 1, "nothing, or 'chart' for the equity curve as a picture", needs=VIEWER),
    Command("balance", "", "equity, available balance, margin in use", cmd_balance, needs=VIEWER),
    Command("trades", "[N]", "last N closed trades (default 10) with exit reasons", cmd_trades, 0, 1,
            "N: how many trades, a whole number from 1 to 100 (default 10)", needs=VIEWER),
    Command("signal", "SYMBOL", "compute the current signal now, with its breakdown", cmd_signal, 1, 1, SYMBOL,
            needs=VIEWER),
    Command("chart", "SYMBOL [interval]", "candle chart: EMAs, Bollinger, volume, trades, SL/TP", cmd_chart, 1, 2,
            f"{SYMBOL}; interval in minutes {' '.join(i for i in INTERVALS if i.isdigit())}, or 1h, 4h, D "
            "(default: the bot's)", needs=VIEWER),
    Command("stop", "[all]", "pause new entries (positions keep TP/SL); 'all' also closes everything", cmd_stop,
            0, 1, "nothing to pause new entries, or 'all' to also close every position (asks first)"),
    Command("resume", "", "allow new entries again", cmd_resume),
    Command("close", "[SYMBOL [PCT|QTY]]", "close a position, or part of it, reduce-only at market (asks first, "
            "with the exit fee and net); no symbol: pick a position", cmd_close, 0, 2,
            f"nothing (pick from the open positions), or {SYMBOL}, then optionally 50% or a quantity like 0.01 "
            "(default: all of it)"),
    Command("long", "SYMBOL [stop]", "open a long by hand: the signal's card, sizing and protection (Approve first)",
            cmd_long, 1, 2, f"{SYMBOL}; stop: a price like 61250 or an ATR multiple like 1.8atr (default: the "
            "strategy's ATR stop)"),
    Command("short", "SYMBOL [stop]", "open a short by hand: the signal's card, sizing and protection (Approve "
            "first)", cmd_short, 1, 2, f"{SYMBOL}; stop: a price like 63800 or an ATR multiple like 1.8atr "
            "(default: the strategy's ATR stop)"),
    Command("sl", "[SYMBOL PRICE]", "move a position's stop-loss (asks first when it adds risk); no symbol: pick",
            cmd_sl, 0, 2, f"nothing (pick from the open positions), or {SYMBOL} and the new stop price"),
    Command("symbols", "[add|remove SYMBOL]", "the watch list; add or remove a symbol (kept across restarts)",
            cmd_symbols, 0, 2, f"nothing to list it, or add/remove and {SYMBOL}"),
    Command("tp", "SYMBOL PRICE", "move a position's take-profit", cmd_tp, 2, 2,
            f"{SYMBOL} and the new take-profit price"),
    Command("mode", "auto|confirm", "trade on its own, or ask before every entry", cmd_mode, 1, 1,
            "auto (trades on its own) or confirm (asks before every entry)"),
    Command("risk", "PCT", "risk per trade, % of balance (0 < PCT ≤ 10)", cmd_risk, 1, 1,
            "PCT: % of the balance risked per trade, a number above 0 and at most 10 (e.g. /risk 1.5)"),
    # heavy work in the one background slot: owners only, so a reader cannot keep the owner waiting
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
        role = deps.access.role(update)
        if role is None:  # the gate (group -1) stops these first
            return
        if role < command.needs:
            await refuse(update, deps, command, role, args)
            return
        result = "error"
        try:
            if not command.min_args <= len(args) <= command.max_args:
                raise UserError(command.usage)
            if long := next((a for a in args if len(a) > ECHO_CHARS), None):  # no valid argument is this long
                raise UserError(f"{shown(long)} is too long ({len(long):,} characters; at most {ECHO_CHARS}). "
                                f"{command.usage}")
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
                               args=" ".join(args)[:AUDIT_ARGS] or None, result=result)

    return handle


async def refuse(update: Update, deps: Deps, command: Command, role: Role, args: list[str]) -> None:
    """One line saying why, and an audit row (allowed=False) naming the role needed and the asker's."""
    message = update.effective_message
    assert message is not None
    await message.reply_text(refused_command(command.name))
    user = update.effective_user
    await deps.service.audit(kind="command", action=f"/{command.name}", allowed=False,
                             user_id=user.id if user else None, chat_id=message.chat_id,
                             args=" ".join(args)[:AUDIT_ARGS] or None,
                             result=f"refused: needs {command.needs.name.lower()}, is {role.name.lower()}")


async def unknown(update: Update, context: Context) -> None:
    """Unknown command or plain text from an allowed chat."""
    message = update.effective_message
    assert message is not None
    text = message.text or ""
    name = text.split()[0] if text.strip() else ""
    if message.chat.type != "private":  # a group: its chatter, and commands for other bots, are not for us
        target = name.partition("@")[2].lower()
        if not text.startswith("/") or (target and target != (context.bot.username or "").lower()):
            return
    shown_name = name if len(name) <= ECHO_CHARS else f"{name[:ECHO_CHARS]}… ({len(name):,} characters)"
    hint = (f"Unknown command {esc(shown_name)}. Send /help for the list." if text.startswith("/")
            else "I only understand commands. Send /help for the list.")
    await message.reply_text(hint, parse_mode=ParseMode.HTML)
    await get_deps(context).service.audit(kind="command" if text.startswith("/") else "message", action="unknown",
                                    allowed=True, user_id=update.effective_user.id if update.effective_user else None,
                                    chat_id=message.chat_id, args=text[:AUDIT_ARGS], result="hint")
