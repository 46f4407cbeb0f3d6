"""Test-only driver: the journal's first start as bot.py runs it (``init_db``, then the instance lock), killed by
SIGKILL right after its Nth SQL statement.

``python -m tests.storage.first_start_driver count URL`` runs a whole first start on the (empty) journal at URL and
prints how many statements it sent. ``python -m tests.storage.first_start_driver kill N=URL [N=URL ...]`` forks one
child per pair; the child starts the journal at URL and is SIGKILLed (no cleanup, no commit, no rollback) after
statement N. One line per pair: ``N killed`` or ``N finished`` (N was past the last statement). The children are
separate processes forked from this one, so the imports are paid once.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from sqlalchemy import event

from storage.db import init_db, make_engine
from storage.lock import new_owner, take_lock


def first_start(url: str, kill_after: int | None) -> int:
    """Start the journal at ``url`` (schema, then the lock); returns the number of statements sent."""
    engine = make_engine(url)
    sent = 0

    @event.listens_for(engine, "after_cursor_execute")
    def _count(*_args: Any) -> None:
        nonlocal sent
        sent += 1
        if sent == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    init_db(engine)
    assert take_lock(engine, new_owner()) is None
    engine.dispose()
    return sent


def main(argv: list[str]) -> int:
    if argv[:1] == ["count"]:
        print(first_start(argv[1], None), flush=True)
        return 0
    if argv[:1] != ["kill"]:
        print(__doc__, file=sys.stderr)
        return 2
    for pair in argv[1:]:
        n, _, url = pair.partition("=")
        pid = os.fork()
        if pid == 0:  # the child: never returns into this loop
            try:
                first_start(url, int(n))
                os._exit(0)
            except BaseException:  # noqa: BLE001 - a crash of the first start itself is a test failure
                import traceback

                traceback.print_exc()
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            print(n, "killed", flush=True)
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            print(n, "finished", flush=True)
        else:
            print(n, "failed", status, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
