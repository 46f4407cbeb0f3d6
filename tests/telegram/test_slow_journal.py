"""A slow database never stalls the bot (issue 13): with 20 ms added to every database statement (a hundred times
a local SQLite statement), Telegram commands are still answered and the trading ticks keep their schedule, because
every journal call runs on the journal's worker thread (storage/worker.py), never on the event loop.

The schedule is read from the job scheduler itself, not from wall-clock gaps (the machine is loaded): every time
the tick job was due it ran; none was skipped because the previous tick was still running, nor missed because the
event loop was busy past APScheduler's grace time."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from sqlalchemy import event

from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import Rig
from tests.telegram.schedule import JobSchedule

LATENCY = 0.02  # seconds added to every statement
LOOP_SECONDS = 4.0  # the tick job's period here (a tick that trades makes ~60 statements: 1.2 s at 20 ms each)
WINDOW = 16.0  # seconds watched


async def test_commands_answered_and_ticks_on_schedule_with_a_slow_database(make_rig: Any) -> None:
    rig: Rig = await make_rig(schedule_ticks=True, loop_seconds=LOOP_SECONDS, mode="auto")
    await rig.hub.wait_for(lambda m: "Started" in m.plain)
    engine, db = rig.deps.engine, rig.deps.journal.db
    loop_thread = threading.current_thread()
    on_loop: list[str] = []
    statements = 0

    slowed = True

    def slow(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal statements
        if not slowed:
            return
        statements += 1
        if threading.current_thread() is loop_thread:
            on_loop.append(statement)
        time.sleep(LATENCY)  # a slow database: the calling thread waits

    starts: list[float] = []
    results: list[bool] = []
    schedule = JobSchedule(rig.app, f"tick:{SYMBOL}")
    tick = engine.tick

    async def timed_tick(symbol: str) -> Any:  # the JobQueue's tick job calls deps.engine.tick
        starts.append(time.monotonic())
        status = await tick(symbol)
        results.append(status.ok)
        return status

    async def market() -> None:  # new candles keep coming, so ticks journal signals and trade
        while True:
            await asyncio.to_thread(rig.sim.step, 1)
            await asyncio.sleep(1.0)

    event.listen(db, "before_cursor_execute", slow)
    engine.tick = timed_tick  # type: ignore[method-assign]
    moving = asyncio.create_task(market())
    began = time.monotonic()
    waits: dict[str, float] = {}
    try:
        for command in ("/status", "/pnl", "/positions", "/trades", "/balance", "/status"):
            sent = time.monotonic()
            reply = await rig.send(command)
            waits[command] = time.monotonic() - sent
            assert reply.plain, command
            await asyncio.sleep(0.5)
        await asyncio.sleep(max(0.0, WINDOW - (time.monotonic() - began)))
    finally:
        moving.cancel()
        slowed = False  # (not event.remove: the worker thread may be running the listeners right now)
        schedule.stop()
    assert on_loop == [], f"database statements ran on the event loop: {on_loop[:3]}"
    assert statements > 50  # the latency really was in the way of every journal call
    assert max(waits.values()) < 10.0, waits  # every command was answered (the window is 16 s)
    # every time the tick was due it ran: none skipped (a tick still running), missed or dropped (the loop busy)
    assert not schedule.skipped and not schedule.missed and not schedule.dropped(), (
        schedule.report(), [round(b - a, 2) for a, b in zip(starts, starts[1:], strict=False)])
    expected = WINDOW / LOOP_SECONDS - 1
    assert len(schedule.ran) >= expected and len(starts) >= expected, (schedule.report(), starts)
    assert all(results), results
