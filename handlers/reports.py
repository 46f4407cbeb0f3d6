"""/pnl daily|weekly|monthly [N] (a table per period) and /performance [chart] (per symbol and per origin, the
equity curve as a PNG on request). Parse → the journal's closed trades (views) through the service → the period maths (tradebot/chat/reports.py)
→ their tables (handlers/render/reports.py)."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import ContextTypes

from handlers import heavy
from handlers.chat import reply
from handlers.deps import Deps
from handlers.render.equity_chart import render_equity
from handlers.render.reports import render_performance, render_periods
from tradebot.chat.heavy import Ticket
from tradebot.chat.reports import equity_points, groups, parse_periods, periods
from tradebot.errors import ArgumentError
from tradebot.parsing import shown

Context = ContextTypes.DEFAULT_TYPE


async def pnl_periods(update: Update, deps: Deps, args: list[str]) -> str:
    unit, n = parse_periods(args[0], args[1] if len(args) > 1 else None)
    rows = periods(await deps.service.reports.closed_trades(), unit, n, deps.service.reports.now())
    await reply(update, render_periods(unit, rows))
    return f"{unit} {n}"


async def cmd_performance(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    if args and args[0].lower() != "chart":
        raise ArgumentError(f"{shown(args[0])} is not 'chart'.")
    trades = await deps.service.reports.closed_trades()
    await reply(update, render_performance(groups(trades, "symbol"), groups(trades, "origin")))
    if not args or not trades:
        return f"{len(trades)} trade(s)"
    message = update.effective_message
    assert message is not None

    async def run() -> None:
        await message.reply_chat_action(ChatAction.UPLOAD_PHOTO)
        points = equity_points(trades)
        png = await deps.service.heavy.cpu(render_equity, points, "Realised equity")
        await message.reply_photo(png, caption=f"Realised PnL after fees and funding over {len(points)} closed "
                                  "trade(s), cumulative (UTC)", parse_mode=ParseMode.HTML)

    async def queued(ticket: Ticket) -> None:
        if ticket.queued:
            await reply(update, f"⏳ Equity chart: {ticket.note}; it will follow.")

    return await heavy.start(update, context, deps, "chart", run, queued)
