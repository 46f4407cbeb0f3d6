"""Every test leaves the process's logging and stderr hooks as it found them.

``setup_logging`` (called by tests and by ``bot.main``) puts a handler on the root logger bound to the stream of
the moment (a test's StringIO, or the ``sys.stderr`` of a test's capture) and sets levels; ``bot.main`` also installs
the stderr hooks. Left behind, that handler writes to a closed stream in some later test ("--- Logging error ---"
noise, or a record lost), and the hooks outlive the test. pytest's own capture handlers come and go per phase and
are not touched here."""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tradebot import logs

# No example may fail for being slow: the machine is loaded and the suite runs on two workers (timing belongs in
# benchmarks). A test's own @settings still set everything else.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


def _ours(handler: logging.Handler) -> bool:
    """A handler ``setup_logging`` installed (it carries the redacting filter)."""
    return any(isinstance(f, logs.RedactingFilter) for f in handler.filters)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    mine = [h for h in root.handlers if _ours(h)]  # (none, unless a test module configured it at import)
    levels = {name: logging.getLogger(name).level for name in logs.QUIET}
    hooks = (sys.excepthook, threading.excepthook, sys.unraisablehook, warnings.showwarning, logs._active)
    yield
    for handler in [h for h in root.handlers if _ours(h) and h not in mine]:
        root.removeHandler(handler)
        handler.close()  # (a StreamHandler leaves its stream open: the test owns that)
    root.setLevel(level)
    for name, was in levels.items():
        logging.getLogger(name).setLevel(was)
    sys.excepthook, threading.excepthook, sys.unraisablehook, warnings.showwarning, logs._active = hooks
