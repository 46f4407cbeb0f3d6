"""The heavy queue (tradebot/chat/heavy.py): order, 'queued (N ahead)', busy beyond the limit, places freed on every exit
path, stop; its process pool: plain data in and out, a worker killed mid-job is a clear failure and the next job
gets a fresh worker."""

from __future__ import annotations

import asyncio
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.chat.heavy import Busy, HeavyQueue, Ticket
from tradebot.errors import UserError


async def _hold(ticket: Ticket, log: list[str], gate: asyncio.Event) -> None:
    async with ticket:
        log.append(f"start {ticket.what}")
        await gate.wait()
        log.append(f"end {ticket.what}")


async def test_one_at_a_time_in_order_then_busy() -> None:
    queue = HeavyQueue(workers=1, waiting=2)
    tickets = [queue.take(f"job{i}") for i in range(3)]
    assert [t.ahead for t in tickets] == [0, 1, 2]
    assert [t.note for t in tickets] == ["", "queued (1 ahead)", "queued (2 ahead)"]
    with pytest.raises(Busy, match="Busy, try again later"):
        queue.take("job3")
    gates = [asyncio.Event() for _ in tickets]
    log: list[str] = []
    tasks = [asyncio.create_task(_hold(t, log, g)) for t, g in zip(tickets, gates, strict=True)]
    await asyncio.sleep(0.01)
    assert log == ["start job0"]  # the others wait their turn
    gates[2].set()  # a later job that is ready still waits for the ones ahead of it
    await asyncio.sleep(0.01)
    assert log == ["start job0"]
    gates[0].set()
    gates[1].set()
    await asyncio.gather(*tasks)
    assert log == ["start job0", "end job0", "start job1", "end job1", "start job2", "end job2"]
    assert queue.size == 0 and queue.running_peak == 1
    assert queue.take("again").ahead == 0  # every place was freed


async def test_a_cancelled_or_failed_job_frees_its_place_and_close_cancels_the_rest() -> None:
    queue = HeavyQueue(workers=1, waiting=3)
    first, second, third = queue.take("a"), queue.take("b"), queue.take("c")
    gate = asyncio.Event()
    log: list[str] = []
    running = asyncio.create_task(_hold(first, log, gate))
    waiting = asyncio.create_task(_hold(second, log, gate))
    await asyncio.sleep(0.01)
    waiting.cancel()  # cancelled while waiting: its place is free
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert queue.size == 2

    async def fails() -> None:
        async with third:
            raise RuntimeError("boom")

    failing = asyncio.create_task(fails())
    gate.set()
    await running
    with pytest.raises(RuntimeError):
        await failing
    assert queue.size == 0

    never = queue.take("announce failed")  # a place whose reply could not be sent is given back
    never.release()
    assert queue.size == 0

    blocked = [queue.take(f"x{i}") for i in range(3)]
    tasks = [asyncio.create_task(_hold(t, log, asyncio.Event())) for t in blocked]
    await asyncio.sleep(0.01)
    queue.close()  # the bot stops: running and waiting jobs are cancelled, nothing new is taken
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    with pytest.raises(Busy, match="stopping"):
        queue.take("late")


@settings(max_examples=60, deadline=None)
@given(workers=st.integers(1, 3), waiting=st.integers(0, 4), ops=st.lists(st.sampled_from(["take", "done"]),
                                                                           max_size=30))
def test_property_the_queue_never_holds_more_than_its_limit(workers: int, waiting: int, ops: list[str]) -> None:
    """Any sequence of requests and completions: at most workers + waiting places, at most workers running, the
    N in 'queued (N ahead)' is the number of requests before it, and a refusal happens only when full."""
    async def run() -> None:
        queue = HeavyQueue(workers=workers, waiting=waiting)
        held: list[Ticket] = []
        for op in ops:
            if op == "take":
                full = queue.size >= workers + waiting
                try:
                    ticket = queue.take("job")
                except Busy:
                    assert full
                    continue
                assert not full and ticket.ahead == len(held)
                assert ticket.queued == (ticket.ahead >= workers)
                held.append(ticket)
            elif held:
                held.pop(0).release()
            assert queue.size == len(held) <= workers + waiting
            assert sum(t._turn.is_set() for t in held) == min(workers, len(held))  # the first ones run
    asyncio.run(run())


def _square(x: int) -> int:
    return x * x


def _pid() -> int:
    return os.getpid()


def _die() -> None:  # pragma: no cover - runs in the worker process
    os._exit(9)  # as the kernel's OOM killer would end it


async def test_cpu_runs_in_a_worker_process_and_survives_a_killed_worker() -> None:
    queue = HeavyQueue(workers=1, waiting=1)
    try:
        assert await queue.cpu(_square, 12) == 144
        first = await queue.cpu(_pid)
        assert first != os.getpid()  # another process: the event loop's process keeps its CPU
        assert await queue.cpu(_pid) == first  # the worker is kept between jobs
        with pytest.raises(UserError, match="worker process stopped"):
            await queue.cpu(_die)
        assert await queue.cpu(_pid) not in (first, os.getpid())  # a fresh worker for the next job
    finally:
        queue.close()
