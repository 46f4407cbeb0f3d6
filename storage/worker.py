"""The journal's worker: each unit of database work is one transaction on one dedicated thread, off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.db import session_scope

T = TypeVar("T")
Work = Callable[[Session], T]


class Worker:
    """Runs each unit of work in one transaction on a single dedicated thread, in the order it was asked."""

    def __init__(self, db: Engine) -> None:
        self.db = db
        self._pool: ThreadPoolExecutor | None = None
        self._guard = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._guard:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
            return self._pool

    def now(self, work: Work[T]) -> T:
        """Run ``work`` in this thread (for code that is not on an event loop: CLI tools, the health check)."""
        with session_scope(self.db) as s:
            return work(s)

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in one transaction on the worker thread; the event loop only awaits it."""
        return await asyncio.get_running_loop().run_in_executor(self._executor(), self.now, work)

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (database work that manages its own transactions, e.g. migrations) on the worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor(), fn)

    def close(self) -> None:
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


class Part:
    """A group of the Journal's methods; they share the Journal's worker."""

    def __init__(self, worker: Worker) -> None:
        self._run = worker.run
