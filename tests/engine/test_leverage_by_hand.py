"""Leverage changed by hand on the website between trades: the next entry sets the configured one again first
(sizing's margin cap and the liquidation estimate assume it; at a hand-set 100× a stop 1% away sits behind the
liquidation price). position/leverage.mdx: leverage is per symbol and survives a flat position."""

from __future__ import annotations

import logging
from decimal import Decimal

from tests.engine.conftest import SYMBOL
from tradebot.events import EntryFilled


async def test_an_entry_sets_the_configured_leverage_again(make_rig, sim, caplog) -> None:
    rig = make_rig(mode="auto", leverage="3")
    await rig.engine.start()
    assert sim.exchange.positions[SYMBOL].leverage == Decimal(3)
    with sim.lock:
        sim.exchange.set_leverage(SYMBOL, Decimal(100))  # the owner, on bybit.com
    with caplog.at_level(logging.WARNING, logger="tradebot.care.trader"):
        await rig.engine.tick(SYMBOL)
    assert rig.events.of(EntryFilled)
    assert rig.position() is not None and Decimal(rig.position()["leverage"]) == Decimal(3)
    assert "leverage on the exchange is 100" in caplog.text

