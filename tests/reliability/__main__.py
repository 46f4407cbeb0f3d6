"""``python -m tests.reliability [--long]``: run the chaos and crash-restart sessions and write their figures
into RELIABILITY.md (the ``--long`` section: 1,000 trade cycles, 50 SIGKILLs of bot.py; without it the CI sizes).

Options: ``--trades N`` / ``--kills K`` override the sizes, ``--no-write`` only prints, ``--seed S``,
``--streams-only`` runs only the stream chaos (its figures have their own section).
The crash run SIGKILLs the real ``bot.py`` (:mod:`tests.reliability.botcrash`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.reliability.botcrash import BotCrashRun
from tests.reliability.chaos import ChaosRun
from tests.reliability.stream_chaos import StreamChaosRun

DOC = Path(__file__).resolve().parents[2] / "RELIABILITY.md"


def section(name: str, body: str) -> str:
    return f"<!-- figures:{name}:start -->\n{body.rstrip()}\n<!-- figures:{name}:end -->"


def write(name: str, body: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Reliability\n"
    block = section(name, body)
    pattern = re.compile(rf"<!-- figures:{name}:start -->.*?<!-- figures:{name}:end -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.reliability")
    ap.add_argument("--long", action="store_true", help="1,000 trade cycles and 50 kills (else 100 and 10)")
    ap.add_argument("--trades", type=int)
    ap.add_argument("--kills", type=int)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--streams-only", action="store_true", help="only the stream chaos")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # the engine's own warnings under faults are expected noise
    trades = args.trades or (1000 if args.long else 100)
    kills = args.kills or (50 if args.long else 10)
    seed = args.seed if args.seed is not None else (2 if args.long else 1)
    command = "python -m tests.reliability" + " ".join(["", *(a for a in sys.argv[1:])])
    stream_ok = stream_chaos(args.trades or (1000 if args.long else 40), seed + 10, args.long, args.no_write)
    if args.streams_only:
        return 0 if stream_ok else 1
    out: list[str] = []
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        print(f"chaos: {trades} trade cycles over HTTP with faults…", flush=True)
        chaos = asyncio.run(ChaosRun(trades, db_path=Path(tmp) / "chaos.db", seed=seed).run())
        print("\n".join(f"  {line}" for line in chaos.lines()), flush=True)
        print(f"crash/restart: {kills} SIGKILLs of bot.py…", flush=True)
        (Path(tmp) / "crash").mkdir()
        crash = BotCrashRun(kills, Path(tmp) / "crash", seed=seed + 2).run()
        print("\n".join(f"  {line}" for line in crash.lines()), flush=True)
        total = time.monotonic() - t0
    ok = not chaos.problems and not crash.problems and chaos.fault_rate >= 0.10
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out += [f"Produced by `{command}` on {when} ({platform.python_version()}, {platform.machine()}, "
            f"total {total:.0f} s). Result: **{'all invariants held' if ok else 'FAILED'}**.", "",
            f"**Chaos** ({trades} trade cycles, seed {seed}):", "", "```", *chaos.lines(), "```", "",
            f"**Crash and restart of `bot.py`** ({kills} SIGKILLs, seed {seed + 2}):", "", "```", *crash.lines(), "```"]
    if not args.no_write:
        write("long" if args.long else "short", "\n".join(out))
        print(f"figures written to {DOC}")
    return 0 if ok and stream_ok else 1


def stream_chaos(trades: int, seed: int, long: bool, no_write: bool) -> bool:
    """The chaos run with the WebSocket streams failing too; figures in the ``stream-long``/``stream-short`` section."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        print(f"stream chaos: {trades} trade cycles with REST and stream faults…", flush=True)
        run = StreamChaosRun(trades, db_path=Path(tmp) / "stream.db", seed=seed)
        fig = asyncio.run(run.run())
        lines = [*fig.lines(), *run.stream_lines()]
        print("\n".join(f"  {line}" for line in lines), flush=True)
        total = time.monotonic() - t0
    ok = not fig.problems and fig.fault_rate >= 0.10
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"Produced by `python -m tests.reliability{' --long' if long else ''}` on {when} "
            f"({platform.python_version()}, {platform.machine()}, {total:.0f} s). "
            f"Result: **{'all invariants held' if ok else 'FAILED'}**.", "",
            f"**Stream chaos** ({trades} trade cycles, seed {seed}):", "", "```", *lines, "```"]
    if not no_write:
        write("stream-long" if long else "stream-short", "\n".join(body))
    return ok


if __name__ == "__main__":
    sys.exit(main())
