"""Heavy chat work off the trading loop: ``/backtest``, ``/optimize`` and ``/chart`` take a place in one bounded queue.

``workers`` requests run at once (one by default); each does its CPU work (the backtest, the Optuna study, the
matplotlib PNG) in a worker process of one spawned process pool, while the event loop only fetches candles through
the client, awaits and sends. A request beyond the running ones waits its turn in order ("queued (N ahead)");
beyond ``waiting`` more it is refused at once (:class:`Busy`): nothing piles up, so memory stays bounded by one
job per worker, and the trading ticks keep their schedule. The pool starts on first use and is retired when the
queue has been idle for a while (an idle bot holds no worker process).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, Protocol, TypeVar

from tradebot.errors import UserError

log = logging.getLogger("tradebot.chat.heavy")
P = ParamSpec("P")
T = TypeVar("T")
IDLE_SECONDS = 300.0  # an idle queue retires its worker process after this long
WORKER_NICE = 10  # the worker's CPU priority below the bot's (nice +10)


class Busy(UserError):
    """The queue is full: the request is refused and nothing was started."""


class Cpu(Protocol):
    """Where a job's CPU work runs: ``await cpu(fn, *args)`` (the pool; a thread for callers without a queue)."""

    def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T]: ...


async def in_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """A :class:`Cpu` for code run without a queue (tests, tools): a thread of this process."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _worker_start(without_pyarrow: bool) -> None:  # pragma: no cover - runs in the worker process
    """Ctrl-C reaches the whole process group: the bot stops the pool itself, the worker never prints a traceback.
    The worker runs at a lower CPU priority: on a busy machine the trading process gets the CPU first. A bot that
    keeps pyarrow out (bot.py ``without_pyarrow``, 66 MB) keeps it out of its worker too; the two must agree, as
    pandas frames pickled where pyarrow backs their strings need pyarrow to be read back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    if without_pyarrow:
        sys.modules.setdefault("pyarrow", None)  # type: ignore[arg-type]  # a None entry makes `import pyarrow` fail


class Ticket:
    """One request's place in the queue: ``async with ticket:`` waits for its turn and frees the place after."""

    def __init__(self, queue: HeavyQueue, what: str, ahead: int) -> None:
        self.what, self.ahead = what, ahead
        self._queue = queue
        self._turn = asyncio.Event()
        self.task: asyncio.Task[object] | None = None

    @property
    def queued(self) -> bool:
        """Whether the request waits (others run) rather than starting now."""
        return self.ahead >= self._queue.workers

    @property
    def note(self) -> str:
        """``queued (N ahead)`` when it waits, else empty."""
        return f"queued ({self.ahead} ahead)" if self.queued else ""

    async def __aenter__(self) -> Ticket:
        self.task = asyncio.current_task()
        try:
            await self._turn.wait()
        except BaseException:  # cancelled while waiting (the bot stops): the place is freed
            self.release()
            raise
        self._queue.started(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Free the place (idempotent): the next request in line may run."""
        self._queue.leave(self)


class HeavyQueue:
    """The bounded queue and its process pool (one per bot)."""

    def __init__(self, workers: int = 1, waiting: int = 3, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self.workers, self.waiting, self.idle_seconds = workers, waiting, idle_seconds
        self.closed = False
        self.running_peak = 0  # the most requests ever running at once (checked by tests and the benchmark)
        self._line: deque[Ticket] = deque()
        self._running: set[Ticket] = set()
        self._pool: ProcessPoolExecutor | None = None
        self._in_pool = 0
        self._idle: asyncio.TimerHandle | None = None

    @property
    def size(self) -> int:
        """Requests running or waiting."""
        return len(self._line)

    def take(self, what: str) -> Ticket:
        """A place in line for one ``what`` request; :class:`Busy` when the queue is full (or the bot stops)."""
        if self.closed:
            raise Busy("Busy: the bot is stopping; try again after it restarts.")
        ahead = len(self._line)
        if ahead >= self.workers + self.waiting:
            raise Busy(f"Busy, try again later: {ahead} /backtest, /optimize or /chart request(s) are running or "
                       f"waiting, as many as the queue takes ([bot] heavy_workers {self.workers} + heavy_queue "
                       f"{self.waiting}).")
        ticket = Ticket(self, what, ahead)
        self._line.append(ticket)
        self._promote()
        return ticket

    def started(self, ticket: Ticket) -> None:
        self._running.add(ticket)
        self.running_peak = max(self.running_peak, len(self._running))

    def leave(self, ticket: Ticket) -> None:
        self._running.discard(ticket)
        if ticket in self._line:
            self._line.remove(ticket)
            self._promote()
        if not self._line:
            self._retire_later()

    def _promote(self) -> None:
        for i, ticket in enumerate(self._line):
            if i >= self.workers:
                break
            ticket._turn.set()

    async def cpu(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in a worker process (arguments and result are pickled: plain data only)."""
        if self.closed:
            raise Busy("Busy: the bot is stopping; try again after it restarts.")
        pool = self._executor()
        self._in_pool += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args, **kwargs))
        except BrokenProcessPool as exc:
            log.error("the heavy queue's worker process died during %s: %s", getattr(fn, "__name__", fn), exc)
            self._drop(pool)
            raise UserError("The worker process stopped before it finished (out of memory, or killed); try again, "
                            "or ask for fewer days.") from None
        finally:
            self._in_pool -= 1

    def _executor(self) -> ProcessPoolExecutor:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._pool is None:
            # spawn, not fork: the bot has threads (the journal's worker, the stdin reader) a fork would copy mid-work
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_worker_start,
                                             initargs=("pyarrow" in sys.modules and sys.modules["pyarrow"] is None,))
        return self._pool

    def _retire_later(self) -> None:
        if self._pool is None or self.closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._idle is not None:
            self._idle.cancel()
        self._idle = loop.call_later(self.idle_seconds, self._retire)

    def _retire(self) -> None:
        self._idle = None
        if self._line or self._in_pool or self._pool is None:
            return
        log.debug("heavy queue idle for %.0f s: retiring its worker process", self.idle_seconds)
        pool, self._pool = self._pool, None
        pool.shutdown(wait=False)

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        _stop(pool)

    def close(self) -> None:
        """Stop for good (the bot stops): waiting and running requests are cancelled, the worker is terminated."""
        self.closed = True
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        for ticket in list(self._line):
            if ticket.task is not None and not ticket.task.done():
                ticket.task.cancel()
        self._line.clear()
        self._running.clear()
        pool, self._pool = self._pool, None
        if pool is not None:
            _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut the pool down without waiting for a running job: its processes are terminated."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # no public way before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
