"""Break-even covers the fee rate the trade was sized with (issue 19): sizing reads the exchange's taker rate
(account/fee-rate.mdx) and break-even used the config's ``taker_fee_rate``; with a config rate below the real one
a stop at "break-even" lost the difference. A stop-out at the break-even stop nets >= 0 at the exchange's rate."""

from __future__ import annotations

from decimal import Decimal

from tests.engine.conftest import SYMBOL
from tradebot.events import EntryFilled, PositionClosed, StopMoved


async def test_a_break_even_stop_out_loses_nothing_at_the_exchange_fee_rate(make_rig, sim, db):
    rig = make_rig(mode="auto", trailing="bot", taker_fee_rate=Decimal("0.0001"), breakeven_offset_atr=Decimal("0"),
                   breakeven_trigger_atr=Decimal("1"), trail_trigger_atr=Decimal("50"), tp_atr=Decimal("60"))
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    assert rig.engine.gate.fee_rate(SYMBOL) == Decimal("0.00055")  # the exchange's (the simulator's default) rate
    sim.set_price(SYMBOL, fill.price * Decimal("1.003"))  # > 1 ATR (35) and past the fee-covering level (+56)
    await rig.engine.tick(SYMBOL)
    [be] = rig.events.of(StopMoved)
    assert be.reason == "breakeven"
    sim.set_price(SYMBOL, be.new_sl - 1)  # back down through the break-even stop
    await rig.engine.tick(SYMBOL)
    [closed] = rig.events.of(PositionClosed)
    assert closed.reason == "breakeven_stop" and closed.pnl >= 0, closed
