"""/symbols through the real python-telegram-bot stack: validated against the simulator's instruments, kept across
a restart, and a symbol removed with its position open is managed until that position closes."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from proving.sim import BookParams, Simulator
from proving.telegram.hub import OfflineTelegram, build_offline_application
from storage.db import init_db, make_engine
from tests.engine.conftest import KEY, SECRET, SYMBOL, trend_rows
from tests.telegram.conftest import Clock, Rig, make_cfg, stop
from tests.telegram.test_phone import manual_card
from tradebot.bybit.client import BybitClient, RetryPolicy
from wiring.app import build_application, startup

ETH = "ETHUSDT"


def two_symbols() -> Simulator:
    return Simulator(symbols=[SYMBOL, ETH], candles={SYMBOL: trend_rows(300), ETH: trend_rows(300)}, warmup=250,
                     rate_limits=False, book=BookParams.zero(), api_key=KEY, api_secret=SECRET,
                     balance=Decimal("10000"))


async def started(make_rig, sim: Simulator) -> Rig:
    rig = await make_rig(sim=sim)
    await rig.hub.wait_for(lambda m: "Started" in m.plain)
    return rig


async def test_add_validate_persist_and_remove_with_an_open_position(make_rig) -> None:
    sim = two_symbols()
    rig = await started(make_rig, sim)
    assert "Watch list (1): BTCUSDT" in (await rig.send("/symbols")).plain
    assert "not a Bybit USDT perpetual" in (await rig.send("/symbols add DOGE")).plain
    assert "not on the watch list" in (await rig.send(f"/long {ETH}")).plain
    assert f"Added {ETH}" in (await rig.send("/symbols add eth")).plain
    assert rig.deps.cfg.bot.symbols == [SYMBOL, ETH] and "already on the watch list" in (
        await rig.send(f"/symbols add {ETH}")).plain
    # kept across a restart
    await stop(rig)
    rig = await started(make_rig, sim)
    assert rig.deps.cfg.bot.symbols == [SYMBOL, ETH]
    assert "Watch list (2): BTCUSDT, ETHUSDT" in (await rig.send("/symbols")).plain
    # a manual trade on the new symbol, then remove it while the position is open
    card = await manual_card(rig, f"/long {ETH}")
    await rig.tap(card, "Approve")
    assert "Executed" in card.plain
    out = (await rig.send(f"/symbols remove {ETH}")).plain
    assert f"Removed {ETH}" in out and "still managed" in out
    assert rig.deps.cfg.bot.symbols == [SYMBOL, ETH]  # still ticked
    assert "open position still managed until it closes: ETHUSDT" in (await rig.send("/symbols")).plain
    await rig.deps.engine.tick(ETH)
    await rig.delivered()  # its alerts (a signal, but no card: off the list) before the next question
    assert "not on the watch list any more" in str(await rig.deps.engine.gate.block(ETH, rig.deps.engine.market.now_for()))
    assert not await rig.deps.service.watch.done_with(ETH)  # open: managed on
    ask = await rig.send(f"/close {ETH}")
    await rig.tap(ask, f"Close {ETH}")
    assert await rig.deps.service.watch.done_with(ETH)  # closed: let go
    assert rig.deps.cfg.bot.symbols == [SYMBOL]
    assert "cannot be empty" in (await rig.send(f"/symbols remove {SYMBOL}")).plain
    await stop(rig)
    rig = await started(make_rig, sim)
    assert rig.deps.cfg.bot.symbols == [SYMBOL]


async def test_bad_symbols_arguments_get_the_usage(rig: Rig) -> None:
    for line in ("/symbols drop BTC", "/symbols add", "/symbols add $$"):
        text = (await rig.send(line)).plain
        assert "Usage: /symbols [add|remove SYMBOL]" in text, (line, text)


async def test_streams_subscribe_and_unsubscribe_with_the_list(db_url) -> None:
    hub, sim = OfflineTelegram(), two_symbols()
    db = make_engine(db_url)
    init_db(db)
    client = BybitClient("http://sim.local", KEY, SECRET, transport=sim.transport(),
                         retry=RetryPolicy(attempts=2, base_delay=0.0))
    app = build_application(make_cfg(db_url), build_offline_application(hub), db=db, sim=sim, client=client,
                            clock=Clock(), managed_loop=True, schedule_ticks=False, drain_seconds=0.05,
                            expiry_seconds=3600, streams=True)
    rig = Rig(hub, app, sim, Clock())
    await startup(app)
    try:
        streams = rig.deps.streams
        async with asyncio.timeout(5):
            while not streams.healthy():  # noqa: ASYNC110 - stream state has no event to wait on
                await asyncio.sleep(0.01)
        topic = f"kline.5.{ETH}"
        assert topic not in streams.public.topics
        await rig.send(f"/symbols add {ETH}")
        assert topic in streams.public.topics and ETH in streams.symbols
        await rig.send(f"/symbols remove {ETH}")
        assert topic not in streams.public.topics and ETH not in streams.symbols
        assert not streams.public.failed_topics
    finally:
        await stop(rig)
