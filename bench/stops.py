"""Stop-management latency: the price crosses an open trade's break-even trigger → the new stop-loss acknowledged by
the simulator (its trading-stop call returned), with streams (the ticker stream drives management) and REST only
(the tick job every ``loop_seconds``: the wait for the next tick, evenly spread over the period, plus the tick's
own measured time)."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.rig import KEY, SECRET, bench_config, bench_symbols

_LINKS = itertools.count()
ATR_SHARE = Decimal("0.01")  # the trades' ATR: 1 % of the price (break-even triggers 1 ATR in favour)


async def _rig(n_symbols: int, workdir: Path, name: str, streams: bool) -> tuple[Any, Any, Any, list[str], Any]:
    from proving.sim import BookParams, Simulator
    from storage.db import init_db, make_engine
    from storage.journal import Journal
    from tradebot.bybit.client import BybitClient
    from tradebot.bybit.stream import PRIVATE_PATH, PUBLIC_PATH, StreamURLs
    from tradebot.tick.engine import TradingEngine
    from tradebot.tick.streams import StreamRunner

    syms = bench_symbols(n_symbols)
    sim = Simulator(symbols=syms, rate_limits=False, book=BookParams.zero(), api_key=KEY, api_secret=SECRET,
                    balance=Decimal(10_000_000))
    db = make_engine(f"sqlite:///{workdir / f'stops-{name}.db'}")
    init_db(db)
    cfg = bench_config(syms, "sqlite://")
    cfg = cfg.__class__(env=cfg.env, file=cfg.file.model_copy(update={"risk": cfg.risk.model_copy(
        update={"trailing_mode": "exchange", "tp_atr": Decimal(10)})}), source="bench")
    client = BybitClient("http://sim.local", KEY, SECRET, transport=sim.transport())
    engine = TradingEngine(cfg, client, Journal(db))
    await engine.start()
    await engine.pause()  # no entries of its own: only the trades opened here
    runner = None
    if streams:
        server = sim.serve_streams()
        runner = StreamRunner(engine, StreamURLs(server.url + PUBLIC_PATH, server.url + PRIVATE_PATH), KEY, SECRET,
                              grace_seconds=60)
        runner.on_stop = server.close
        runner.start()
        async with asyncio.timeout(20):
            while not runner.healthy():  # noqa: ASYNC110 - stream state has no event
                await asyncio.sleep(0.02)
    return sim, engine, runner, syms, db


async def _open(sim: Any, engine: Any, symbol: str) -> Decimal:
    """A long with a stop 2 % below, journaled with its ATR; returns the price that crosses break-even."""
    from proving.sim.instruments import INSTRUMENTS

    from proving.sim.exchange import OrderRequest
    from storage.trades import open_trade

    ins, price = INSTRUMENTS[symbol], sim.prices()[symbol]
    qty = max(ins.min_order_qty, (Decimal(500) / price / ins.qty_step).to_integral_value() * ins.qty_step)
    sl = (price * Decimal("0.98") / ins.tick_size).to_integral_value() * ins.tick_size
    link = f"en-s{next(_LINKS)}-{symbol}"  # the bot's entries' form: its own fill is the entry, not an add
    with sim.lock:
        sim.exchange.place_order(OrderRequest(symbol, "Buy", "Market", qty, stop_loss=sl, link_id=link))
        sim.publisher.flush()
        pos = sim.exchange.positions[symbol]
        entry, at = pos.avg_price, datetime.fromtimestamp(pos.open_time / 1000, tz=UTC)
    atr = entry * ATR_SHARE
    await engine.journal.worker.run(lambda s: open_trade(session=s, symbol=symbol, side="Buy", qty=pos.size,
                                                         entry_price=entry, entry_time=at, sl=sl, atr=atr,
                                                         entry_order_link_id=link))
    return ((entry + atr * Decimal("1.3")) / ins.tick_size).to_integral_value() * ins.tick_size


def _watch_acks(sim: Any) -> dict[str, float]:
    """symbol → when the simulator last acknowledged a trading-stop for it (perf_counter)."""
    acks: dict[str, float] = {}
    inner = sim.exchange.set_trading_stop

    def wrapped(symbol: str, *a: Any, **kw: Any) -> Any:
        out = inner(symbol, *a, **kw)
        acks[symbol] = time.perf_counter()
        return out

    sim.exchange.set_trading_stop = wrapped
    return acks


async def _close_all(sim: Any, engine: Any, syms: list[str]) -> None:
    for s in syms:
        await engine.close(s)


async def stop_latency(n_symbols: int, rounds: int, workdir: Path, streams: bool) -> list[float]:
    """Milliseconds from the crossing price to the new stop's acknowledgement, per trade (streams: measured
    end to end; REST only: each tick measured, then the wait for it spread over ``loop_seconds``)."""
    sim, engine, runner, syms, db = await _rig(n_symbols, workdir, "streams" if streams else "rest", streams)
    acks = _watch_acks(sim)
    out: list[float] = []
    try:
        for _ in range(rounds):
            targets = {s: await _open(sim, engine, s) for s in syms}
            await asyncio.sleep(0.3)  # the fills' stream messages are in
            for s in syms:
                acks.pop(s, None)
                t0 = time.perf_counter()
                await asyncio.to_thread(sim.set_price, s, targets[s])
                if streams:
                    async with asyncio.timeout(10):
                        while s not in acks:  # noqa: ASYNC110 - the ack has no event
                            await asyncio.sleep(0.001)
                else:
                    t0 = time.perf_counter()  # the tick starts now: its own time is what it adds to the wait
                    await engine.tick(s)
                if s not in acks:
                    raise RuntimeError(f"{s}: the stop was not moved")
                out.append((acks[s] - t0) * 1000)
                await asyncio.sleep(0.05)
            await _close_all(sim, engine, syms)
            await asyncio.sleep(0.3)
    finally:
        if runner is not None:
            await runner.stop()
        await engine.client.aclose()
        db.dispose()
        sim.close()
    if not streams:  # the crossing comes at an even spread of moments before the next tick
        period = engine.cfg.bot.loop_seconds * 1000
        out = [d + period * (i + 0.5) / len(out) for i, d in enumerate(out)]
    return out
