"""Adopted positions are journaled as the exchange has them (issue 19): the close takes closed-pnl's openFee as the
trade's entry fee (an adopted trade starts at 0, the bot never saw its entry), and a row from before the adoption
(a hand reduction of the position before the bot took it over) is not the trade's."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from storage.db import session_scope
from storage.models import TradeRecord
from tests.engine.conftest import SYMBOL
from tradebot.events import PositionClosed


def _trade(db) -> TradeRecord:
    with session_scope(db) as s:
        [t] = s.exec(select(TradeRecord)).all()
        s.expunge(t)
        return t


async def test_adopted_trade_keeps_the_exchange_fees_and_only_its_own_rows(make_rig, sim, db):
    rig = make_rig(mode="confirm")
    await rig.client.place_order(symbol=SYMBOL, side="Buy", qty=Decimal("0.02"), order_link_id="by-hand-1")
    await rig.client.place_order(symbol=SYMBOL, side="Sell", qty=Decimal("0.01"), order_link_id="by-hand-2",
                                 reduce_only=True)  # reduced by hand before the bot saw it
    await rig.engine.tick(SYMBOL)  # adopted (the wait is 0): 0.01
    assert _trade(db).adopted and _trade(db).qty == Decimal("0.01") and _trade(db).entry_fee == 0
    sim.step(1)
    sim.set_price(SYMBOL, Decimal(rig.position()["stopLoss"]) - 10)  # the stop the bot set fires
    await rig.engine.tick(SYMBOL)
    before, after = sorted(sim.state()["closed_pnl"], key=lambda r: int(r["createdTime"]))
    t = _trade(db)
    assert t.status == "closed" and t.reason == "stop_loss"
    assert (t.pnl, t.exit_qty) == (Decimal(after["closedPnl"]), Decimal("0.01"))  # not the row before adoption
    assert t.entry_fee == Decimal(after["openFee"]) > 0  # the exchange's opening fee, not 0
    assert t.exit_fee == Decimal(after["closeFee"])
    gross = (t.exit_price - t.entry_price) * t.exit_qty
    assert t.pnl == gross - t.entry_fee - t.exit_fee - t.funding_fee  # net = closedPnl; the components add up
    [event] = rig.events.of(PositionClosed)
    assert event.fees == t.entry_fee + t.exit_fee and event.pnl == t.pnl
    assert Decimal(before["closedPnl"]) != 0
