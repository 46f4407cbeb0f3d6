"""The daily loss limit's base is the equity at the start of the UTC day on the market clock (issue 19): the first
tick that sees a new day records it, signal or not (it was taken at the day's first sizing, with the unrealised PnL
of whenever that came, and was missing until then)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.engine.conftest import SYMBOL


async def test_the_days_first_tick_records_its_starting_equity(make_rig, sim, db):
    rig = make_rig(mode="auto")
    await rig.engine.settings.load()
    await rig.engine.settings.new_bar(SYMBOL, datetime(2100, 1, 1, tzinfo=UTC))  # no signal is new: nothing sized
    await rig.engine.tick(SYMBOL)
    day = rig.engine.market.now_for(SYMBOL).date()
    assert rig.position() is None
    assert await rig.journal.state.day_start(day) == Decimal("10000")  # recorded by the tick itself
    sim.exchange.wallet += Decimal("-250")  # equity moves later that day: the base stays the day's start
    await rig.engine.tick(SYMBOL)
    assert await rig.journal.state.day_start(day) == Decimal("10000")
