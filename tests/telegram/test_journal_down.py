"""The journal cannot be written (issue 20): the owner hears it once, directly (not through the outbox, which lives
in the journal), with what to check, and again only after an hour; a tap on Approve meanwhile is answered; no
"error while handling the error" flood; `bot.py health` says why the heartbeats stopped; once the journal takes
writes again, one note says so.

The fault is real SQLite: every connection opened while it lasts is read-only (``PRAGMA query_only``), the bot's
and the health check's alike, as a journal on a read-only mount would be."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from handlers.alerts import drain
from handlers.deps import wall_now
from handlers.journal_alarm import ALARM_KEY, REPEAT_SECONDS, JournalAlarm
from handlers.liveness import CHAT as CHAT_BEAT
from handlers.liveness import TICK
from storage.journal import Message
from tests.telegram.conftest import CHAT, Rig, stop
from tests.waiting import until
from wiring.health import check

DIRECT = "The bot cannot write its journal"


@contextmanager
def read_only_journal(db: Engine) -> Iterator[None]:
    """Every SQLite connection opened meanwhile (in this process) refuses writes; the bot's pool is renewed."""
    def pragma(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only = ON")

    event.listen(Pool, "connect", pragma)
    db.dispose()
    try:
        yield
    finally:
        event.remove(Pool, "connect", pragma)
        db.dispose()


def direct(rig: Rig) -> list[str]:
    return [m.plain for m in rig.hub.sent(CHAT) if DIRECT in m.plain]


async def test_a_journal_that_cannot_be_written_reaches_the_owner_once_an_hour(
        make_rig: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    rig: Rig = await make_rig()
    await rig.hub.wait_for(lambda m: "Started" in m.plain)
    deps = rig.deps
    now = wall_now()
    await deps.journal.state.beat(TICK, now, None, now)  # the heartbeats `bot.py health` reads, fresh
    await deps.journal.state.beat(CHAT_BEAT, now, "polling", now)
    card = await rig.card()  # a confirmation card, sent before the fault
    await rig.delivered()
    caplog.set_level(logging.WARNING)
    caplog.clear()
    with read_only_journal(deps.journal.db):
        status = await rig.replies("/status")  # answered; its audit row cannot be written: the user is told
        assert any("journal cannot be written right now" in m.plain for m in status), [m.plain for m in status]
        [told] = await until(lambda: direct(rig) or None, limit=10)
        assert "(attempt to write a readonly database)" in told
        assert "writable by the bot's user" in told and "at most once an hour" in told

        n = len(rig.hub.answers)
        rig.hub.push_callback(CHAT, rig.hub.button(card, "Approve"), card.message_id)  # a tap: answered
        await until(lambda: len(rig.hub.answers) > n or None, limit=10)
        answer = rig.hub.answers[n]
        assert answer.show_alert and "journal cannot be written right now" in (answer.text or ""), answer
        assert rig.orders() == []  # nothing traded

        for _ in range(3):  # trading ticks fail at the journal: the first logs its traceback, the others one line
            await deps.engine.tick(deps.cfg.bot.symbols[0])
        ticks = [r for r in caplog.records if r.name == "tradebot.tick.engine" and r.levelno >= logging.ERROR]
        assert len(ticks) == 3 and ticks[0].exc_info and not any(r.exc_info for r in ticks[1:]), ticks
        assert all(r.getMessage().startswith("tick BTCUSDT failed again: OperationalError: (sqlite3.Operational"
                                             "Error) attempt to write a readonly database") for r in ticks[1:]), [
            r.getMessage() for r in ticks]
        for command in ("/pnl", "/trades", "/positions"):
            await rig.replies(command)
        await rig.hub.wait_idle(quiet=0.3)
        assert len(direct(rig)) == 1  # still one direct message, however many failures
        alarm: JournalAlarm = rig.app.bot_data[ALARM_KEY]
        assert alarm.failures >= 5

        code, line = check(deps.cfg, now=wall_now() + timedelta(hours=1))  # the heartbeats have gone stale
        assert code == 1 and line.startswith("unhealthy: the journal cannot be written (attempt to write a "
                                             "readonly database): check that "), line
        assert "stale tick" in line

        clock = alarm.clock
        alarm.clock = lambda: clock() + REPEAT_SECONDS + 1  # an hour later, still failing: told once more
        await rig.replies("/status")
        await until(lambda: len(direct(rig)) == 2 or None, limit=10)

    records = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "while handling the error" in r.getMessage()]
    assert [r.name for r in records if r.name != "tradebot.tick.engine"] == ["handlers.journal_alarm"], [
        (r.name, r.getMessage()[:120]) for r in records]  # one line for the outage; the tick logs its own failure

    assert await alarm.probe()  # writable again: the note goes through the outbox
    back = await rig.hub.wait_for(lambda m: "journal takes writes again" in m.plain, timeout=10)
    assert back.chat_id == CHAT
    assert alarm.since is None and alarm.failures == 0


async def test_a_message_delivered_while_its_mark_cannot_be_written_is_not_sent_again(
        make_rig: Callable[..., Any]) -> None:
    """Disk full between Telegram's answer and the "sent" mark: the outbox used to send the row again every drain."""
    rig: Rig = await make_rig()
    await rig.hub.wait_for(lambda m: "Started" in m.plain)
    await rig.delivered()
    for job in rig.app.job_queue.get_jobs_by_name("outbox"):  # this test drains by hand
        job.schedule_removal()
    deps = rig.deps
    await deps.journal.outbox.enqueue([Message(CHAT, "text", "only once, please")], wall_now())
    with read_only_journal(deps.journal.db):
        for _ in range(3):
            await drain(rig.app.bot, deps)
        assert [m.plain for m in rig.hub.sent(CHAT)].count("only once, please") == 1
        assert len(deps.journal.outbox.unrecorded) == 1
    await drain(rig.app.bot, deps)  # writable again: the mark is written, nothing is sent again
    assert [m.plain for m in rig.hub.sent(CHAT)].count("only once, please") == 1
    assert deps.journal.outbox.unrecorded == {}
    assert await deps.journal.outbox.due(wall_now() + timedelta(days=1), 10) == []
    with read_only_journal(deps.journal.db):  # stopping while it cannot be written: no traceback, all closed
        await stop(rig)
    assert not rig.app._initialized
