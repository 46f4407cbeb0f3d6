"""The bot journals a takeover liquidation from the rows the simulator writes for it (execType BustTrade).

Bybit's docs (../shared/reference/bybit-docs/): enum.mdx execType BustTrade "Takeover liquidation";
position/close-pnl.mdx execType BustTrade; position/position.mdx liqPrice (cross margin: an estimate).
"""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from proving.sim.margin import MARK_POINTS
from storage.db import session_scope
from storage.models import TradeRecord
from tests.engine.conftest import SYMBOL
from tradebot.events import EntryFilled, PositionClosed


async def test_liquidation_is_journaled_as_liquidation(make_rig, sim, db):
    rig = make_rig(mode="auto")
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    pos = rig.position()
    liq = Decimal(pos["liqPrice"])
    assert fill.side == "Buy" and 0 < liq < fill.sl
    for o in sim.exchange.open_orders(SYMBOL):  # the stops vanish (say, cancelled by hand on the exchange)
        sim.exchange.cancel_order(SYMBOL, o.order_id)
    for _ in range(MARK_POINTS):  # a crash: the mark price reaches the liquidation price before any tick
        sim.set_price(SYMBOL, liq - 100)
    assert rig.position() is None
    bust = [e for e in sim.state()["executions"] if e["execType"] == "BustTrade"]
    assert len(bust) == 1
    await rig.engine.tick(SYMBOL)
    [closed] = rig.events.of(PositionClosed)
    assert closed.reason == "liquidation" and closed.exit_price == Decimal(bust[0]["execPrice"])
    with session_scope(db) as s:
        [t] = s.exec(select(TradeRecord)).all()
        assert t.status == "closed" and t.reason == "liquidation"
        assert t.pnl == Decimal(sim.state()["closed_pnl"][0]["closedPnl"])
