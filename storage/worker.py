"""The journal's worker: each unit of database work is one transaction on one dedicated thread, off the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.db import session_scope
from storage.trouble import DOWN

log = logging.getLogger("storage.worker")

T = TypeVar("T")
P = ParamSpec("P")
Work = Callable[[Session], T]


class Worker:
    """Runs each unit of work in one transaction on a single dedicated thread, in the order it was asked.

    A unit that fails because the database refused it or is unreachable (:data:`storage.trouble.DOWN`: disk full,
    read-only, locked, server down) is also told to each of ``watchers`` (on the event loop), then raised as is:
    the bot's journal alarm tells the owner without going through the journal."""

    def __init__(self, db: Engine) -> None:
        self.db = db
        self.watchers: list[Callable[[Exception], None]] = []
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
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), self.now, work)
        except DOWN as exc:
            self._tell(exc)
            raise

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (database work that manages its own transactions, e.g. migrations) on the worker thread."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), fn)
        except DOWN as exc:
            self._tell(exc)
            raise

    def _tell(self, exc: Exception) -> None:
        for watch in list(self.watchers):
            try:
                watch(exc)
            except Exception:  # a watcher's own failure never hides the database error
                log.exception("journal watcher failed")

    def close(self) -> None:
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


class Part:
    """A group of the Journal's methods; they share the Journal's worker."""

    def __init__(self, worker: Worker) -> None:
        self._run = worker.run

    async def _call(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one storage function (session first) as one transaction: ``self._call(repo.X, id=conf_id)``;
        mypy checks the arguments against ``repo.X``'s own signature."""
        return await self._run(lambda s: fn(s, *args, **kwargs))
