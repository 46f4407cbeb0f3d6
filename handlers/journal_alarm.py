"""When the journal cannot be written (disk full, read-only, database down): one direct message to the owner that
says so and what to check, at most once an hour. Direct: ``bot.send_message``, never the outbox, which lives in
the journal. While it fails, a small probe write each minute; once the journal takes writes again, one note says
so (through the outbox, which works again)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime

from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers.alerts import queue
from handlers.deps import App, Deps, wall_now
from handlers.render.formatting import Rendered, esc
from storage.trouble import DOWN, advice, reason

log = logging.getLogger("handlers.journal_alarm")
ALARM_KEY = "journal_alarm"
REPEAT_SECONDS = 3600.0  # the direct message at most once an hour
RETRY_SECONDS = 60.0  # a direct message Telegram did not take is tried again after this long
PROBE_SECONDS = 60.0  # while failing: one probe write this often
PROBE_JOB = "journal-probe"
JOURNAL_BEAT = "journal"  # the heartbeat the probe writes: when the journal last took a write


def recipient(deps: Deps) -> int | None:
    """Who hears about it: the owner who gets the error reports (``Deps.admin_chat``)."""
    return deps.admin_chat


class JournalAlarm:
    """A watcher of the journal's worker (``storage/worker.py``): told of every unit that failed for lack of a
    writable database."""

    def __init__(self, app: App, deps: Deps, clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.deps, self.clock = app, deps, clock
        self.since: datetime | None = None  # the first failure of the current outage (wall time)
        self.failures = 0  # failed journal calls in the current outage
        self.error: Exception | None = None
        self.told_at: float | None = None  # when the owner was last told directly (clock)
        self.told_this_time = False
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, exc: Exception) -> None:
        self.failures += 1
        self.error = exc
        if self.since is None:
            self.since = wall_now()
            log.error("the journal cannot be written (%s): %s. Alerts, button taps and new trades need it; the "
                      "owner is told directly", reason(exc), advice(exc, self.deps.cfg.env.DATABASE_URL))
            self._probe_later()
        if self.told_at is None or self.clock() - self.told_at >= REPEAT_SECONDS:
            self.told_at = self.clock()  # claimed now: the failures right behind this one send nothing
            task = asyncio.get_running_loop().create_task(self._tell(exc), name="journal-alarm")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def text(self, exc: Exception) -> str:
        since = self.since.strftime("%H:%M UTC") if self.since else "now"
        return (f"⚠️ <b>The bot cannot write its journal</b> ({esc(reason(exc))}), since {since}.\n"
                f"What to check: {esc(advice(exc, self.deps.cfg.env.DATABASE_URL))}.\n"
                "Open positions keep their take-profit and stop-loss on the exchange, but until the journal can be "
                "written the bot cannot record trades: new entries, button taps and alerts may fail. You will hear "
                "when it works again; this warning repeats at most once an hour.")

    async def _tell(self, exc: Exception) -> None:
        chat = recipient(self.deps)
        if chat is None:
            return
        try:
            await self.app.bot.send_message(chat, self.text(exc), parse_mode="HTML")
            self.told_this_time = True
        except TelegramError as err:  # Telegram is down too: try again in a minute
            log.warning("could not tell the owner that the journal cannot be written: %s", err)
            self.told_at = self.clock() - REPEAT_SECONDS + RETRY_SECONDS

    def _probe_later(self) -> None:
        jq = self.app.job_queue
        if jq is not None and not jq.get_jobs_by_name(PROBE_JOB):
            jq.run_repeating(self.probe, interval=PROBE_SECONDS, first=PROBE_SECONDS, name=PROBE_JOB)

    async def probe(self, context: ContextTypes.DEFAULT_TYPE | None = None) -> bool:
        """One small write (the ``journal`` heartbeat); True, and the outage is over, when it went through."""
        now = wall_now()
        try:
            await self.deps.journal.state.beat(JOURNAL_BEAT, now, None, now)
        except DOWN:
            return False
        await self.recovered()
        return True

    async def recovered(self) -> None:
        if self.since is None:
            return
        since, failures, told = self.since, self.failures, self.told_this_time
        self.since, self.failures, self.error, self.told_this_time = None, 0, None, False
        jq = self.app.job_queue
        for job in jq.get_jobs_by_name(PROBE_JOB) if jq is not None else []:
            job.schedule_removal()
        log.warning("the journal takes writes again (it failed from %s, %d failed call(s))",
                    since.strftime("%H:%M:%S UTC"), failures)
        chat = recipient(self.deps)
        if told and chat is not None:
            await queue(self.deps, Rendered(
                f"✅ The journal takes writes again (it could not be written from {since.strftime('%H:%M UTC')}). "
                "Alerts raised meanwhile could not be stored: /status, /positions and /trades show where things "
                "stand."), "error", [chat])


def install(app: App, deps: Deps) -> JournalAlarm:
    """Watch the journal's worker; the alarm is kept in ``bot_data`` (tests reach it there)."""
    alarm = JournalAlarm(app, deps)
    deps.journal.worker.watchers.append(alarm)
    app.bot_data[ALARM_KEY] = alarm
    return alarm


def uninstall(app: App, deps: Deps) -> None:
    alarm = app.bot_data.pop(ALARM_KEY, None)
    if alarm in deps.journal.worker.watchers:
        deps.journal.worker.watchers.remove(alarm)
