"""A bot process for the crash tests: TradingEngine → BybitClient → the HTTP simulator, a file SQLite journal.

``python -m tests.reliability.crash_driver --url URL --db PATH [--settle N]`` (keys in BYBIT_API_KEY/SECRET).
It loops ticks and approves confirmations (the auto-approver standing in for the user; ``--defer P`` leaves a card
unanswered with probability P). At start it answers every confirmation already in the journal again: pending ones
are approved (they must still be answerable, or expired), handled ones are "tapped" again (a replayed callback:
must do nothing). ``--clock-offset`` moves the engine's wall clock (the final run: leftover cards expire). One line per event on stdout,
flushed, so the killer can aim (``APPROVE`` is printed just before the order goes out).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
from datetime import timedelta

from sqlmodel import select

from storage.db import init_db, make_engine, session_scope
from storage.journal import Journal
from storage.models import Confirmation
from tests.engine.conftest import SYMBOL
from tests.reliability.chaos import chaos_config
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.events import ConfirmationNeeded
from tradebot.tick.engine import TradingEngine
from tradebot.timeutil import utcnow

USER = 4242


def say(*parts: object) -> None:
    print(*parts, flush=True)


async def main(url: str, db_path: str, settle: int, timeout_s: float, defer: float, clock_offset_s: float) -> int:
    rng = random.Random(os.getpid())
    db = make_engine(f"sqlite:///{db_path}")
    init_db(db)
    client = BybitClient(url, os.environ["BYBIT_API_KEY"], os.environ["BYBIT_API_SECRET"], timeout=timeout_s,
                         retry=RetryPolicy(attempts=4, base_delay=0.05))
    offset = timedelta(seconds=clock_offset_s)
    engine = TradingEngine(chaos_config(f"sqlite:///{db_path}"), client, Journal(db), clock=lambda: utcnow() + offset)
    queue: list[str] = []
    engine.bus.subscribe(lambda e: queue.append(e.confirmation_id) if isinstance(e, ConfirmationNeeded) else None)
    await engine.start()  # instruments, leverage, reconcile (what the crash left behind)
    with session_scope(db) as s:
        known = [(c.id, c.status) for c in s.exec(select(Confirmation)).all()]
    say("READY", len(known))
    for conf_id, status in known:
        if status == "pending" and rng.random() < defer:
            say("DEFER", conf_id)  # the user answers later (or never: it expires)
            continue
        out = await engine.desk.approve(conf_id, USER)
        say("REPLAY", conf_id, status, out.status, out.text.replace("\n", " "))
    ticks = 0
    while settle == 0 or ticks < settle:
        st = await engine.tick(SYMBOL)
        ticks += 1
        say("TICK", ticks, int(st.ok))
        while queue:
            conf_id = queue.pop(0)
            if rng.random() < defer:
                say("DEFER", conf_id)
                continue
            say("APPROVE", conf_id)
            out = await engine.desk.approve(conf_id, USER)
            say("OUTCOME", conf_id, out.status, out.text.replace("\n", " "))
        await asyncio.sleep(0.05)
    if settle:
        await engine.reconcile()
    await client.aclose()
    db.dispose()
    say("DONE")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--settle", type=int, default=0, help="run this many ticks, reconcile and exit (0 = forever)")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--defer", type=float, default=0.0, help="probability of leaving a card unanswered for now")
    ap.add_argument("--clock-offset", type=float, default=0.0, help="seconds added to the engine's wall clock")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sys.exit(asyncio.run(main(args.url, args.db, args.settle, args.timeout, args.defer, args.clock_offset)))
