"""Heavy commands benchmark: N × ``/backtest SYMBOL DAYS`` sent at once to the real Application (offline Telegram,
paper simulator with a year of candles, a trading tick every second): how the requests were answered, how long
``/pnl`` took meanwhile, the longest gap between trading ticks, and the resident memory of the bot process plus
its worker processes (peak against the idle baseline, measured in the same run)."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

DESCRIPTION = "heavy commands: N x /backtest at once: answers, /pnl wait, max tick gap, peak RSS (bot + workers)"
KEY, SECRET, CHAT, SYMBOL = "bench-key", "bench-secret", 7, "BTCUSDT"
STEP_MS = 15 * 60_000


def year_of_candles(days: int, seed: int = 20) -> list[tuple[int, str, str, str, str, str]]:
    """A seeded random walk of 15m candles (trending stretches, so the strategy trades), ``days`` + warm-up long."""
    rng = random.Random(seed)
    n = days * 96 + 400
    t0 = 1_700_000_000_000 - (1_700_000_000_000 % STEP_MS)
    rows, price, drift = [], 50_000.0, 0.0
    for i in range(n):
        if i % 500 == 0:
            drift = rng.uniform(-0.0006, 0.0006)
        close = max(1000.0, price * (1 + drift + rng.gauss(0, 0.003)))
        hi, lo = max(price, close) * (1 + abs(rng.gauss(0, 0.001))), min(price, close) * (1 - abs(rng.gauss(0, 0.001)))
        rows.append((t0 + i * STEP_MS, f"{price:.1f}", f"{hi:.1f}", f"{lo:.1f}", f"{close:.1f}",
                     f"{rng.uniform(5, 50):.3f}"))
        price = close
    return rows


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def rss_mb() -> tuple[float, float]:
    """(this process's resident memory, its worker processes' (multiprocessing children) together), in MB."""
    workers = sum(_rss_kb(p.pid) for p in multiprocessing.active_children() if p.pid)
    return _rss_kb(os.getpid()) / 1024, workers / 1024


async def run(requests: int, days: int, workdir: Path) -> dict[str, Any]:
    from handlers.deps import DEPS_KEY
    from proving.sim import BookParams, Simulator
    from proving.telegram.hub import OfflineTelegram, build_offline_application
    from storage.db import init_db, make_engine
    from tradebot.bybit.client import BybitClient
    from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
    from tradebot.sizing.execution import MARKET_ENTRIES
    from wiring.app import build_application, shutdown, startup

    rows = year_of_candles(days)
    sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: rows}, warmup=len(rows) - 5, rate_limits=False,
                    book=BookParams.zero(), api_key=KEY, api_secret=SECRET, balance=Decimal(10_000))
    db_url = f"sqlite:///{workdir / 'heavy.db'}"
    db = make_engine(db_url)
    init_db(db)
    settings = BotSettings.model_validate({"symbols": [SYMBOL], "interval": "15", "loop_seconds": 1,
                                           "mode": "confirm", "streams": False})
    cfg = Config(env=EnvSettings(TELEGRAM_ALLOWED_CHAT_IDS=[CHAT], DATABASE_URL=db_url),
                 file=FileConfig(execution=MARKET_ENTRIES, bot=settings), source="bench")
    hub = OfflineTelegram()
    client = BybitClient("http://sim.local", KEY, SECRET, transport=sim.transport())
    app = build_application(cfg, build_offline_application(hub), db=db, sim=sim, client=client, managed_loop=True,
                            schedule_ticks=True, drain_seconds=0.1, expiry_seconds=3600, streams=False)
    await startup(app)
    deps = app.bot_data[DEPS_KEY]
    starts: list[float] = []
    tick = deps.engine.tick

    async def timed_tick(symbol: str) -> Any:
        starts.append(time.monotonic())
        return await tick(symbol)

    deps.engine.tick = timed_tick
    peak = [0.0, 0.0, 0.0]  # bot process, workers, both together
    sampling = True

    async def sample() -> None:
        while sampling:
            bot, workers = await asyncio.to_thread(rss_mb)
            for i, value in enumerate((bot, workers, bot + workers)):
                peak[i] = max(peak[i], value)
            await asyncio.sleep(0.2)

    try:
        await hub.wait_for(lambda m: "Started" in m.plain, 30)
        await asyncio.sleep(3)
        baseline = sum(rss_mb())
        sampler = asyncio.create_task(sample())
        before = {m.message_id for m in hub.sent(CHAT)}
        began = time.monotonic()
        for _ in range(requests):
            hub.push_message(CHAT, f"/backtest {SYMBOL} {days}")
        await asyncio.sleep(1.0)
        asked = time.monotonic()
        hub.push_message(CHAT, "/pnl")
        await hub.wait_for(lambda m: m.message_id not in before and "PnL" in m.plain and "Net PnL" not in m.plain,
                           timeout=900)
        pnl_wait = time.monotonic() - asked

        def new() -> list[Any]:
            return [m for m in hub.sent(CHAT) if m.message_id not in before]

        def answers() -> dict[str, int]:
            kinds = {"started": 0, "queued": 0, "busy": 0, "done": 0, "failed": 0}
            for m in new():
                text = m.plain
                if text.startswith("⏳ Backtesting"):
                    kinds["queued" if "queued (" in text else "started"] += 1
                elif "Busy, try again later" in text:
                    kinds["busy"] += 1
                elif m.photo is not None:
                    kinds["done"] += 1
                elif "Backtest failed" in text:
                    kinds["failed"] += 1
            return kinds

        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            a = answers()
            if a["started"] + a["queued"] + a["busy"] >= requests and a["done"] + a["failed"] >= a["started"] + a["queued"]:
                break
            await asyncio.sleep(0.5)
        ended = time.monotonic()
        sampling = False
        await sampler
        inside = [t for t in starts if began - 1 <= t <= ended]
        gaps = [b - a for a, b in zip(inside, inside[1:], strict=False)]
        return {"answers": answers(), "pnl_wait_s": pnl_wait, "max_tick_gap_s": max(gaps, default=float("nan")),
                "ticks": len(inside), "all_done_s": ended - began, "rss_baseline_mb": baseline, "rss_peak_mb": peak[2],
                "rss_bot_peak_mb": peak[0], "rss_workers_peak_mb": peak[1]}
    finally:
        sampling = False
        await shutdown(app)
        db.dispose()
        sim.close()


CHILD = """
import json, sys
sys.modules["pyarrow"] = None  # as bot.py's without_pyarrow: the bot process as it runs
from pathlib import Path
import asyncio
from bench.heavy import run
print(json.dumps(asyncio.run(run(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])))))
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench heavy", description=DESCRIPTION)
    parser.add_argument("--requests", type=int, default=20, help="how many /backtest at once (default 20)")
    parser.add_argument("--days", type=int, default=365, help="DAYS of each /backtest (default 365)")
    args = parser.parse_args(argv)
    root = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory(prefix="bench-heavy-") as tmp:  # a fresh process: its memory is the bot's
        proc = subprocess.run([sys.executable, "-c", CHILD, str(args.requests), str(args.days), tmp], cwd=root,
                              capture_output=True, text=True, timeout=7200, check=False,
                              env={**os.environ, "PTB_TIMEDELTA": "true", "PYTHONPATH": root})
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return 1
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    a = out["answers"]
    print(f"{args.requests} x /backtest {SYMBOL} {args.days} at once (15m candles, a tick every 1 s): "
          f"{a['started']} started, {a['queued']} queued, {a['busy']} busy; {a['done']} result(s), {a['failed']} "
          f"failed, all answered in {out['all_done_s']:.1f} s")
    print(f"/pnl sent 1 s later answered in {out['pnl_wait_s']:.2f} s; max gap between trading ticks "
          f"{out['max_tick_gap_s']:.2f} s over {out['ticks']} ticks (target < 2 s: loop_seconds + 1)")
    print(f"RSS (bot + worker processes): {out['rss_baseline_mb']:.0f} MB idle -> {out['rss_peak_mb']:.0f} MB peak "
          f"(+{out['rss_peak_mb'] - out['rss_baseline_mb']:.0f} MB); peaks apart: bot process "
          f"{out['rss_bot_peak_mb']:.0f} MB, worker processes {out['rss_workers_peak_mb']:.0f} MB")
    print(f"heavy: requests={args.requests} days={args.days} started={a['started']} queued={a['queued']} "
          f"busy={a['busy']} pnl_s={out['pnl_wait_s']:.2f} max_gap_s={out['max_tick_gap_s']:.2f} "
          f"rss_idle_mb={out['rss_baseline_mb']:.0f} rss_peak_mb={out['rss_peak_mb']:.0f}")
    return 0
