"""A trading tick the event loop reaches late still runs. APScheduler skips a run later than its grace time, and its
default grace is 1 s: a busy second on a loaded machine (a GC pause, a burst of chat traffic, a slow disk) silently
cost a whole tick. Every repeating job's grace is now its own interval (handlers/jobs.py ``no_overlap``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.engine.conftest import SYMBOL
from tests.telegram.schedule import JobSchedule


async def test_a_tick_the_loop_reaches_two_seconds_late_still_runs(make_rig: Callable[..., Any]) -> None:
    rig = await make_rig(schedule_ticks=True, loop_seconds=3)
    schedule = JobSchedule(rig.app, f"tick:{SYMBOL}")
    due: datetime = schedule.job.next_run_time
    ran = 0
    tick = rig.deps.engine.tick

    async def counted(symbol: str) -> Any:
        nonlocal ran
        ran += 1
        return await tick(symbol)

    rig.deps.engine.tick = counted  # type: ignore[method-assign]
    try:
        await asyncio.sleep(max(0.0, (due - datetime.now(due.tzinfo)).total_seconds() - 0.5))
        time.sleep(2.5)  # noqa: ASYNC251 -- the point: the event loop is busy from 0.5 s before the tick is due to 2 s after
        for _ in range(40):
            if ran:
                break
            await asyncio.sleep(0.05)
    finally:
        schedule.stop()
    assert due in schedule.submitted and not schedule.missed, schedule.report()  # run late, not skipped
    assert ran == 1
