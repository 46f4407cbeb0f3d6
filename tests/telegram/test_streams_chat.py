"""The app with streams on (as `--demo` runs it): a stop hit reaches the chat with no trading tick at all, once,
and /status shows each stream's state and last message age."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from handlers.deps import DEPS_KEY
from proving.telegram.hub import OfflineTelegram, build_offline_application
from storage.db import init_db, make_engine
from tests.engine.conftest import KEY, SECRET, SYMBOL
from tests.recorder import Recorder
from tests.telegram.conftest import Clock, Rig, make_cfg, make_sim, stop
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.events import EntryFilled
from wiring.app import build_application, startup


async def test_stop_hit_is_announced_from_the_stream_and_status_shows_streams(db_url):
    hub, sim = OfflineTelegram(), make_sim()
    db = make_engine(db_url)
    init_db(db)
    client = BybitClient("http://sim.local", KEY, SECRET, transport=sim.transport(),
                         retry=RetryPolicy(attempts=2, base_delay=0.0))
    app = build_application(make_cfg(db_url, mode="auto"), build_offline_application(hub), db=db, sim=sim,
                            client=client, clock=Clock(), managed_loop=True, schedule_ticks=False,
                            drain_seconds=0.05, expiry_seconds=3600, streams=True)
    rig = Rig(hub, app, sim, Clock())
    await startup(app)
    try:
        deps = app.bot_data[DEPS_KEY]
        rec = Recorder()
        deps.engine.bus.subscribe(rec)
        async with asyncio.timeout(5):
            while not deps.streams.healthy():  # noqa: ASYNC110 - stream state has no event to wait on
                await asyncio.sleep(0.01)
        await deps.engine.tick(SYMBOL)
        [fill] = rec.of(EntryFilled)
        sim.set_price(SYMBOL, fill.sl - Decimal(1))  # the exchange fires the stop; nothing ticks from here on
        closed = await hub.wait_for(lambda m: "closed" in m.plain and "stop" in m.plain.lower(), 5)
        assert SYMBOL in closed.plain
        await hub.wait_idle(quiet=0.3)
        assert sum("closed" in m.plain and "stop" in m.plain.lower() for m in hub.sent()) == 1
        status = await rig.send("/status")
        assert "Streams: public live" in status.plain and "private live" in status.plain
    finally:
        await stop(rig)
