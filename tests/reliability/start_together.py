"""Test-only: ``python -m tests.reliability.start_together [bot.py args]`` imports what the live start needs,
prints ``ready``, waits for a line on stdin, then runs bot.py's ``main``: processes told "go" at once start their
journals within a millisecond or so of each other (the two-starts race, made tight)."""

from __future__ import annotations

import sys

import bot
import storage.db  # noqa: F401  (what the live start imports, loaded before the signal)
import wiring.live  # noqa: F401

if __name__ == "__main__":
    print("ready", flush=True)
    sys.stdin.readline()
    sys.exit(bot.main(sys.argv[1:]))
