"""/symbols, /symbols add SYMBOL, /symbols remove SYMBOL: the watch list at run time (tradebot/chat/watchlist.py), and
each symbol's tick job scheduled or let go with it."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from handlers import jobs
from handlers.chat import reply
from handlers.deps import Deps
from handlers.render.formatting import esc
from tradebot.chat.service import parse_symbol
from tradebot.errors import ArgumentError
from tradebot.parsing import shown

Context = ContextTypes.DEFAULT_TYPE


def _ticking(context: Context, symbol: str) -> bool:
    jq = context.job_queue
    return jq is not None and bool(jq.get_jobs_by_name(f"tick:{symbol}"))


def _schedule(context: Context, deps: Deps) -> None:
    """A tick job for every ticked symbol that has none, when ticks are scheduled at all (a symbol's is)."""
    jq = context.job_queue
    if jq is None or not any(_ticking(context, s) for s in deps.cfg.bot.symbols):
        return
    for symbol in deps.cfg.bot.symbols:
        if not _ticking(context, symbol):
            jq.run_repeating(jobs.tick, interval=deps.cfg.bot.loop_seconds, first=1, data=symbol,
                             name=f"tick:{symbol}", job_kwargs=jobs.no_overlap(deps.cfg.bot.loop_seconds))


def _unschedule(context: Context, symbol: str) -> None:
    jq = context.job_queue
    for job in jq.get_jobs_by_name(f"tick:{symbol}") if jq is not None else ():
        job.schedule_removal()


async def cmd_symbols(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    watch = deps.service.watch
    if not args:
        leaving = await watch.leaving()
        text = f"<b>Watch list</b> ({len(watch.watched)}): {esc(', '.join(watch.watched))}"
        if leaving:
            text += (f"\nOff the list, open position still managed until it closes: {esc(', '.join(leaving))}")
        await reply(update, text + "\n/symbols add SYMBOL · /symbols remove SYMBOL")
        return "listed"
    verb = args[0].lower()
    if verb not in ("add", "remove") or len(args) != 2:
        raise ArgumentError(f"{shown(' '.join(args))} is not 'add SYMBOL' or 'remove SYMBOL'.")
    symbol = parse_symbol(args[1])
    if verb == "add":
        out = await watch.add(symbol)
        _schedule(context, deps)
    else:
        out = await watch.remove(symbol)
        if symbol not in deps.cfg.bot.symbols:
            _unschedule(context, symbol)
    await reply(update, esc(out.text))
    return out.text
