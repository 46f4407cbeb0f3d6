"""JobQueue jobs: trading tick per symbol, outbox drain, confirmation expiry, lock heartbeat, health, digest."""

from __future__ import annotations

import logging
import time
from datetime import time as dtime

from telegram.ext import ContextTypes

from handlers import alerts
from handlers.deps import EXIT_OTHER_INSTANCE, App, Deps, Setup, get_deps, wall_now
from handlers.errors import request_stop
from handlers.render.formatting import Rendered, render_pnl, render_status
from storage.lock import LOCK_NAME

log = logging.getLogger("handlers.jobs")


def no_overlap(interval: float) -> dict[str, object]:
    """A repeating job's APScheduler options: never two runs at once, runs that fell behind coalesce into one, and a
    run that is late by less than its interval still runs (APScheduler's default grace is 1 s: a busy moment on a
    loaded machine would skip a 1 s trading tick instead of running it late)."""
    return {"max_instances": 1, "coalesce": True, "misfire_grace_time": max(1, round(interval))}

STALL_INTERVALS = 3
POLL_SILENCE_SECONDS = 180.0


async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    assert context.job is not None
    deps, symbol = get_deps(context), str(context.job.data)
    if deps.streams is not None and not deps.streams.rest_tick_due(symbol):
        return  # healthy streams tick at each candle close; REST only reconciles (README "Streams")
    await deps.engine.tick(symbol)
    if symbol not in deps.service.watch.watched and await deps.service.watch.done_with(symbol):
        context.job.schedule_removal()  # removed by /symbols while its position was open: now closed


async def drain_outbox(context: ContextTypes.DEFAULT_TYPE) -> None:
    await alerts.drain(context.bot, get_deps(context))


async def expire_confirmations(context: ContextTypes.DEFAULT_TYPE) -> None:
    await get_deps(context).engine.desk.expire()  # emits ConfirmationExpired → card edits


async def heartbeat(context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = get_deps(context)
    ours = await deps.journal.ops.lock_heartbeat(LOCK_NAME, deps.owner, wall_now())
    if not ours:
        log.critical("the instance lock was taken over by another process; stopping so only one bot trades")
        request_stop(context.application, deps, EXIT_OTHER_INSTANCE)


async def health(context: ContextTypes.DEFAULT_TYPE) -> None:
    await check_health(get_deps(context))


async def check_health(deps: Deps, now_mono: float | None = None) -> list[str]:
    """Alert once per problem: a symbol whose tick has not completed for 3 intervals; polling gone silent."""
    now = deps.clock()
    period = deps.streams.healthy_period() if deps.streams is not None else deps.cfg.bot.loop_seconds
    limit = period * STALL_INTERVALS
    problems: dict[str, str] = {}
    for symbol, last in deps.service.last_tick_times().items():
        age = (now - last).total_seconds() if last else (now_mono or time.monotonic()) - deps.started_mono
        if age > limit:
            problems[f"tick:{symbol}"] = (f"{symbol}: no trading tick has completed for {int(age)} s "
                                          f"(more than {STALL_INTERVALS} intervals of {deps.cfg.bot.loop_seconds:g} s)")
    if deps.poll is not None:
        silent = (now_mono or time.monotonic()) - deps.poll.last_ok
        if silent > POLL_SILENCE_SECONDS:
            problems["poll"] = (f"Telegram polling has received no answer for {int(silent)} s "
                                f"(last error: {deps.poll.last_error or 'none'}); commands may not arrive")
    for key, text in problems.items():
        if key not in deps.health_alerts:
            log.warning("health: %s", text)
            await deps.service.alert_health(text)
    for key in deps.health_alerts - problems.keys():
        await deps.service.alert_health(f"Recovered: {key.replace('tick:', '')} is healthy again")
    deps.health_alerts = set(problems)
    return list(problems.values())


async def digest(context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = get_deps(context)
    text = f"🗞 <b>Daily digest</b>\n{render_status(await deps.service.status())}\n\n{render_pnl(await deps.service.pnl('today'))}"
    await alerts.queue(deps, Rendered(text), "digest")


def schedule(app: App, deps: Deps, setup: Setup) -> None:
    jq = app.job_queue
    assert jq is not None, "python-telegram-bot[job-queue] is required"
    bot = deps.cfg.bot
    if setup.schedule_ticks:
        for i, symbol in enumerate(bot.symbols):
            jq.run_repeating(tick, interval=bot.loop_seconds, first=1 + i * 0.5, data=symbol, name=f"tick:{symbol}",
                             job_kwargs=no_overlap(bot.loop_seconds))
        jq.run_repeating(health, interval=bot.loop_seconds, first=bot.loop_seconds, name="health",
                         job_kwargs=no_overlap(bot.loop_seconds))
    jq.run_repeating(drain_outbox, interval=setup.drain_seconds, first=0.1, name="outbox",
                     job_kwargs=no_overlap(setup.drain_seconds))
    jq.run_repeating(expire_confirmations, interval=setup.expiry_seconds, first=setup.expiry_seconds,
                     name="expiry", job_kwargs=no_overlap(setup.expiry_seconds))
    jq.run_repeating(heartbeat, interval=20, first=20, name="heartbeat", job_kwargs=no_overlap(20))
    if bot.digest_utc:
        hh, mm = (int(x) for x in bot.digest_utc.split(":"))
        jq.run_daily(digest, time=dtime(hh, mm, tzinfo=wall_now().tzinfo), name="digest")
