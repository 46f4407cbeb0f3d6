"""Streams benchmark: exchange event → outbox row latency, REST calls per symbol per minute, resident memory."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.rig import CHAT, KEY, SECRET, bench_config, bench_symbols, pct  # noqa: F401 - the RSS child imports them here
from bench.stops import stop_latency

DESCRIPTION = ("streams: event→outbox latency p50/p99 (20 symbols, and bursts of 20), stop moved after the break-even "
               "trigger p50/p99 (streams vs REST only), REST calls/symbol/min before/after, RSS 20/100")


# -- 1. latency: the exchange fires a stop → the close alert row is in the outbox ----------------------------
async def latency(n_symbols: int, rounds: int, workdir: Path, gap_s: float = 0.05) -> list[float]:
    from sqlmodel import select

    from handlers.deps import DEPS_KEY
    from proving.sim import BookParams, Simulator
    from proving.sim.exchange import OrderRequest
    from proving.telegram.hub import OfflineTelegram, build_offline_application
    from storage.db import init_db, make_engine
    from storage.models import OutboxMessage
    from storage.trades import open_trade
    from tradebot.bybit.client import BybitClient
    from tradebot.market_model.instruments import INSTRUMENTS
    from wiring.app import build_application, shutdown, startup

    syms = bench_symbols(n_symbols)
    sim = Simulator(symbols=syms, rate_limits=False, book=BookParams.zero(), api_key=KEY, api_secret=SECRET,
                    balance=Decimal(10_000_000))
    fired: dict[str, list[int]] = {s: [] for s in syms}

    def on_publish(topic: str, msg: dict[str, Any]) -> None:  # the simulator's own event timestamp
        if topic == "execution":
            for row in msg["data"]:
                if row["stopOrderType"] == "StopLoss":
                    fired[row["symbol"]].append(int(msg["creationTime"]))

    sim.publisher.sinks.append(on_publish)
    db_url = f"sqlite:///{workdir / f'latency-{gap_s:g}.db'}"
    db = make_engine(db_url)
    init_db(db)
    client = BybitClient("http://sim.local", KEY, SECRET, transport=sim.transport())
    app = build_application(bench_config(syms, db_url), build_offline_application(OfflineTelegram()), db=db,
                            sim=sim, client=client, managed_loop=True, schedule_ticks=False, drain_seconds=0.05,
                            expiry_seconds=3600, streams=True)
    await startup(app)
    deps = app.bot_data[DEPS_KEY]
    fallbacks = 0
    await deps.engine.pause()  # signals still run at every candle close (live load) but never trade here
    try:
        async with asyncio.timeout(20):
            while not deps.streams.healthy():  # noqa: ASYNC110 - stream state has no event
                await asyncio.sleep(0.05)
        start_price = sim.prices()
        for r in range(rounds):
            stops: dict[str, Decimal] = {}
            for s in syms:
                ins, price = INSTRUMENTS[s], start_price[s]
                qty = max(ins.min_order_qty, (Decimal(200) / price / ins.qty_step).to_integral_value() * ins.qty_step)
                sl = (price * Decimal("0.99") / ins.tick_size).to_integral_value() * ins.tick_size
                link = f"en-bench-{r}-{s}"  # as the bot's entries: its own fill is the entry, not an add
                with sim.lock:
                    sim.exchange.place_order(OrderRequest(s, "Buy", "Market", qty, stop_loss=sl, link_id=link))
                    sim.publisher.flush()
                    pos = sim.exchange.positions[s]
                    entry = datetime.fromtimestamp(pos.open_time / 1000, tz=UTC)
                await deps.journal.worker.run(lambda sess, s=s, pos=pos, entry=entry, sl=sl, link=link: open_trade(
                    session=sess, symbol=s, side="Buy", qty=pos.size, entry_price=pos.avg_price, entry_time=entry,
                    sl=sl, entry_order_link_id=link))
                stops[s] = sl - 5 * ins.tick_size
            for s in syms:  # the market runs through every stop (the simulator thread, not the bot's loop)
                await asyncio.to_thread(sim.set_price, s, stops[s])
                await asyncio.sleep(gap_s)  # 0: all 20 stops in one burst
            waited = time.monotonic()
            while True:
                left = [t.symbol for t in await deps.journal.trades.open()]
                if not left:
                    break
                if time.monotonic() - waited > 5:  # what the REST tick job would do: the fallback
                    fallbacks += len(left)
                    for s in left:
                        await deps.engine.tick(s)
                    waited = time.monotonic()
                await asyncio.sleep(0.01)
            for s in syms:
                await asyncio.to_thread(sim.set_price, s, start_price[s])
            ticked = {s: deps.engine.last_ticks.get(s) for s in syms}
            await asyncio.to_thread(sim.step, 1)  # market time moves on: each round's trades have their own times
            async with asyncio.timeout(120):  # the candle close ticks every symbol (signals run; paused: no trades)
                while any(deps.engine.last_ticks.get(s) is ticked[s] for s in syms):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            start_price = sim.prices()
        rows = await deps.journal.worker.run(lambda sess: [(r.text, r.created_at) for r in sess.exec(select(
            OutboxMessage).where(OutboxMessage.kind == "closed").order_by(OutboxMessage.id)).all()])
    finally:
        await shutdown(app)
        db.dispose()
        sim.close()
    if fallbacks:
        print(f"  ({fallbacks} closes were left to the REST tick fallback)", flush=True)
    out: list[float] = []
    seen: dict[str, int] = {}
    for text, created in rows:
        sym = next(s for s in sorted(syms, key=len, reverse=True) if s in text)
        i = seen.get(sym, 0)
        seen[sym] = i + 1
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        out.append(created.timestamp() * 1000 - fired[sym][i])
    return out


# -- 2. REST calls per symbol per minute: REST-only loop vs healthy streams ----------------------------------
class Counter(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.calls = inner, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.inner.handle_async_request(request)


async def rest_rate(minutes: int, workdir: Path) -> tuple[float, float]:
    """Calls per symbol per minute over ``minutes`` of schedule: the tick job every ``loop_seconds`` as today,
    against the same job asking ``rest_tick_due`` plus a tick at each candle close from the stream."""
    from proving.sim import BookParams, Simulator
    from storage.db import init_db, make_engine
    from storage.journal import Journal
    from tradebot.bybit.client import BybitClient
    from tradebot.bybit.stream import PRIVATE_PATH, PUBLIC_PATH, StreamURLs
    from tradebot.tick.engine import TradingEngine
    from tradebot.tick.streams import StreamRunner

    sym = "BTCUSDT"
    sim = Simulator(symbols=[sym], rate_limits=False, book=BookParams.zero(), api_key=KEY, api_secret=SECRET)
    server = sim.serve_streams()
    results = []
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    for streams in (False, True):
        db = make_engine(f"sqlite:///{workdir / f'rest{int(streams)}.db'}")
        init_db(db)
        counter = Counter(sim.transport())
        cfg = bench_config([sym], "sqlite://", interval="15")
        client = BybitClient("http://sim.local", KEY, SECRET, transport=counter)
        engine = TradingEngine(cfg, client, Journal(db), clock=lambda: now[0])
        await engine.start()
        runner = None
        if streams:
            runner = StreamRunner(engine, StreamURLs(server.url + PUBLIC_PATH, server.url + PRIVATE_PATH), KEY,
                                  SECRET, grace_seconds=60)
            runner.start()
            async with asyncio.timeout(10):
                while not runner.healthy():  # noqa: ASYNC110 - stream state has no event
                    await asyncio.sleep(0.02)
        counter.calls = 0
        loop_s, candle_s = int(cfg.bot.loop_seconds), int(cfg.bot.interval) * 60
        for t in range(0, minutes * 60, loop_s):
            now[0] = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=t)
            if runner is not None and t % candle_s == 0:
                await engine.tick(sym)  # what a kline confirm triggers
            elif runner is None or runner.rest_tick_due(sym):
                await engine.tick(sym)  # the tick job (handlers/jobs.py)
        results.append(counter.calls / minutes)
        if runner is not None:
            await runner.stop()
        await client.aclose()
        db.dispose()
    server.close()
    sim.close()
    return results[0], results[1]


# -- 3. resident memory of the bot process with N symbols subscribed ----------------------------------------
CHILD = r"""
import asyncio, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bot import without_pyarrow
without_pyarrow()  # as bot.py does for the long-running bot
from bench.stream import bench_config, bench_symbols, KEY, SECRET
import wiring.app  # the bot's imports (python-telegram-bot, pandas, TA-Lib...)
IMPORTS = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
from storage.db import init_db, make_engine
from storage.journal import Journal
from tradebot.bybit.client import BybitClient
from tradebot.tick.engine import TradingEngine
from tradebot.tick.streams import start_streams

async def main():
    n, base, db_path = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    syms = bench_symbols(n)
    cfg = bench_config(syms, f"sqlite:///{db_path}")
    db = make_engine(cfg.env.DATABASE_URL); init_db(db)
    client = BybitClient(base, KEY, SECRET)
    engine = TradingEngine(cfg, client, Journal(db))
    await engine.start()
    runner = await start_streams(engine, base, KEY, SECRET)
    async with asyncio.timeout(60):
        while not runner.healthy() or runner.events_seen < n:
            await asyncio.sleep(0.1)
    for s in syms:
        await engine.tick(s)
    await asyncio.sleep(1.0)
    rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
    print(json.dumps({"rss_mb": rss / 1024, "events": runner.events_seen, "imports_mb": IMPORTS / 1024}))
    await runner.stop(); await client.aclose()

asyncio.run(main())
"""


def rss_mb(n_symbols: int, workdir: Path) -> tuple[float, float]:
    """(RSS in MB of a bot process with ``n_symbols`` streaming and ticked, RSS right after its imports)."""
    from proving.sim import Simulator

    syms = bench_symbols(n_symbols)
    sim = Simulator(symbols=syms, rate_limits=False, api_key=KEY, api_secret=SECRET)
    with sim.serve() as http, sim.serve_streams():
        sim.start_replay(speed=60.0)  # candles move (a 5m candle every 5 s): kline updates for every symbol
        root = str(Path(__file__).resolve().parent.parent)
        proc = subprocess.run([sys.executable, "-c", CHILD, root, str(n_symbols), http.url,
                               str(workdir / f"rss{n_symbols}.db")], capture_output=True, text=True,
                              timeout=300, cwd=root, check=False)
        sim.stop_replay()
    sim.close()
    if proc.returncode != 0:
        raise RuntimeError(f"RSS child failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(out["rss_mb"]), float(out["imports_mb"])


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 50
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        lat = asyncio.run(latency(20, rounds, work))
        print(f"latency: {len(lat)} stop hits over 20 live symbols, 50 ms apart, in {time.perf_counter() - t0:.1f} s;"
              f" p50 {pct(lat, 0.5):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, max {max(lat):.1f} ms (target p99 < 250)")
        burst = asyncio.run(latency(20, max(5, rounds // 5), work, gap_s=0.0))
        print(f"burst: {len(burst)} stop hits, all 20 symbols' stops at once each round: p50 {pct(burst, 0.5):.1f} ms,"
              f" p99 {pct(burst, 0.99):.1f} ms (the 20th close of a burst waits for the 19 before it)")
        live = asyncio.run(stop_latency(20, max(2, rounds // 10), work, streams=True))
        rest = asyncio.run(stop_latency(20, max(2, rounds // 10), work, streams=False))
        loop_s = bench_config([], "sqlite://").bot.loop_seconds
        print(f"stop management: price past the break-even trigger → new stop acknowledged, {len(live)} trades over "
              f"20 symbols: streams p50 {pct(live, 0.5):.1f} ms, p99 {pct(live, 0.99):.1f} ms (target p99 < 1000); "
              f"REST only (tick every {loop_s:g} s) p50 {pct(rest, 0.5):.0f} ms, p99 {pct(rest, 0.99):.0f} ms")
        before, after = asyncio.run(rest_rate(120, work))
        print(f"REST calls per symbol per minute: {before:.2f} REST-only, {after:.2f} with healthy streams "
              f"({before / after:.1f}x fewer; target >= 5x)")
        (rss20, base), (rss100, _) = rss_mb(20, work), rss_mb(100, work)
        print(f"bot process RSS with streams subscribed: {rss20:.0f} MB at 20 symbols, {rss100:.0f} MB at 100 "
              f"(target < 250 MB at 20); {base:.0f} MB of it is the imports alone (pandas, pyarrow, PTB, TA-Lib)")
    print(f"stream: events={len(lat)} latency_p50_ms={pct(lat, 0.5):.1f} latency_p99_ms={pct(lat, 0.99):.1f} "
          f"burst_p50_ms={pct(burst, 0.5):.1f} burst_p99_ms={pct(burst, 0.99):.1f} "
          f"stop_move_streams_p50_ms={pct(live, 0.5):.1f} stop_move_streams_p99_ms={pct(live, 0.99):.1f} "
          f"stop_move_rest_p50_ms={pct(rest, 0.5):.0f} stop_move_rest_p99_ms={pct(rest, 0.99):.0f} "
          f"rest_calls_per_symbol_min_before={before:.2f} rest_calls_per_symbol_min_after={after:.2f} "
          f"rest_reduction_x={before / after:.1f} rss_mb_imports={base:.0f} rss_mb_20={rss20:.0f} "
          f"rss_mb_100={rss100:.0f}")
    return 0
