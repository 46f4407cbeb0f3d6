"""/backtest, /optimize and /chart in the background, one at a time: a place in the service's heavy queue
(``tradebot/chat/heavy.py``), the reply that says so, and the job run at its turn."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import ContextTypes

from handlers.deps import Deps
from tradebot.chat.heavy import Ticket

Context = ContextTypes.DEFAULT_TYPE


async def start(update: Update, context: Context, deps: Deps, what: str, job: Callable[[], Awaitable[None]],
                announce: Callable[[Ticket], Awaitable[object]] | None) -> str:
    """Take a place (:class:`tradebot.chat.heavy.Busy`, a UserError, when the queue is full), ``announce`` it (the
    reply saying it started or is queued), then run ``job`` in the background once its turn comes; errors go to
    the error handler with the update, as a handler's would. Returns the audit result."""
    ticket = deps.service.heavy.take(what)
    try:
        if announce is not None:
            await announce(ticket)
    except BaseException:  # the reply failed: nothing will run, the place is free again
        ticket.release()
        raise

    async def run() -> None:
        async with ticket:
            await job()

    context.application.create_task(run(), update=update)
    return ticket.note or "started"
