"""Protection means a stop that acts now (issue 19, bug 3): a stop-loss, or a trailing stop that has activated.

Bybit's trailing stop with ``activePrice`` does nothing until that price trades (position/trading-stop.mdx:
"Trailing stop will be triggered when this price is reached only"), and the position row does not say whether it
has (position/position.mdx: ``trailingStop`` only). A stop-loss removed by hand while the trailing stop waits must be
restored within one management cycle, and the audit must count that position as unprotected meanwhile.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlmodel import select

from storage.db import session_scope
from storage.models import TradeRecord
from tests.engine.conftest import SYMBOL
from tests.reliability.audit import unprotected
from tradebot.events import EntryFilled, PositionClosed


async def test_stop_loss_removed_while_the_exchange_trailing_waits_is_restored(make_rig, sim, db):
    rig = make_rig(mode="auto", trailing="exchange")
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    assert Decimal(rig.position()["trailingStop"]) == fill.trailing_distance > 0
    assert rig.price() < fill.trailing_active_price  # the trailing stop waits for its activation price
    await rig.client.set_trading_stop(symbol=SYMBOL, stop_loss=Decimal("0"))  # removed by hand on the website
    assert unprotected(sim.state()) == [f"{SYMBOL} Buy {rig.position()['size']}"]  # the audit sees it
    await rig.engine.tick(SYMBOL)  # one management cycle
    assert Decimal(rig.position()["stopLoss"]) == fill.sl  # restored
    assert unprotected(sim.state()) == []
    sim.set_price(SYMBOL, fill.price * Decimal("0.9"))  # a 10% drop: stopped, not left open
    assert rig.position() is None
    await rig.engine.tick(SYMBOL)
    [closed] = rig.events.of(PositionClosed)
    assert closed.reason == "stop_loss" and closed.exit_price == fill.sl  # the stop's price, not 10% down


async def test_an_active_exchange_trailing_stop_counts_as_protection(make_rig, sim, db):
    """Once its activation price has traded the trailing stop acts: then no stop-loss is forced back."""
    rig = make_rig(mode="auto", trailing="exchange", breakeven_trigger_atr=Decimal("50"))
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    sim.set_price(SYMBOL, fill.trailing_active_price + 1)
    assert sim.state()["trailing_active"][SYMBOL]
    await rig.engine.tick(SYMBOL)  # the bot sees the best price past the activation price
    await rig.client.set_trading_stop(symbol=SYMBOL, stop_loss=Decimal("0"))
    await rig.engine.tick(SYMBOL)
    assert Decimal(rig.position()["stopLoss"] or "0") == 0 and unprotected(sim.state()) == []
    with session_scope(db) as s:
        [t] = s.exec(select(TradeRecord)).all()
        assert t.best_price is not None and t.best_price >= fill.trailing_active_price


async def test_unknown_position_with_a_waiting_trailing_stop_gets_a_stop_loss(make_rig, sim, db):
    rig = make_rig(mode="confirm")
    rig.engine.positions.unknown_wait = timedelta(hours=1)  # no decision yet: only the protection acts
    await rig.client.place_order(symbol=SYMBOL, side="Buy", qty=Decimal("0.01"), order_link_id="by-hand-1")
    price = rig.price()
    await rig.client.set_trading_stop(symbol=SYMBOL, trailing_stop=Decimal("100"), active_price=price + 500)
    await rig.engine.tick(SYMBOL)
    assert Decimal(rig.position()["stopLoss"] or "0") > 0 and unprotected(sim.state()) == []
