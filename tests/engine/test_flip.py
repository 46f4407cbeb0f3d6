"""A position flipped by hand (closed and reopened the other way in one order) before the old close's closed-pnl
row is listed (issue 19): the old trade is journaled when its row shows, and the new position is protected at once
and then adopted (never blocked by a decision taken while the old trade was still open)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlmodel import select

from storage.db import session_scope
from storage.models import TradeRecord
from tests.engine.conftest import SYMBOL
from tradebot.events import EntryFilled, PositionClosed, UnknownPosition


def _trades(db) -> list[TradeRecord]:
    with session_scope(db) as s:
        out = list(s.exec(select(TradeRecord).order_by(TradeRecord.id)).all())
        for t in out:
            s.expunge(t)
        return out


async def test_flip_seen_before_the_old_close_row(make_rig, sim, db):
    rig = make_rig(mode="auto")
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    sim.faults.configure(closed_pnl_lag_ms=600_000)  # the old close's row lags the position
    new_size = Decimal("0.01")
    await rig.client.place_order(symbol=SYMBOL, side="Sell", qty=fill.qty + new_size, order_link_id="web-flip")
    pos = rig.position()
    assert pos is not None and pos["side"] == "Sell" and Decimal(pos["stopLoss"] or "0") == 0
    await rig.engine.tick(SYMBOL)
    pos = rig.position()
    assert Decimal(pos["stopLoss"] or "0") > 0  # the new position is protected at once
    [old] = _trades(db)
    assert old.status == "open"  # its close is not on the record yet: not journaled from nothing
    sim.faults.configure()  # the row shows
    await rig.engine.tick(SYMBOL)
    await rig.engine.tick(SYMBOL)
    old, new = _trades(db)
    [row] = sim.state()["closed_pnl"]
    assert (old.status, old.side, old.pnl, old.exit_qty) == ("closed", "Buy", Decimal(row["closedPnl"]), fill.qty)
    assert old.reason == "manual"
    assert (new.status, new.side, new.adopted, new.qty) == ("open", "Sell", True, new_size)
    assert len(rig.events.of(PositionClosed)) == 1 and len(rig.events.of(UnknownPosition)) == 1
    assert Decimal(rig.position()["stopLoss"]) > 0


async def test_an_answer_given_while_the_old_close_is_pending_is_kept(make_rig, sim, db):
    """The unknown-position card's buttons work while the flipped-away trade's row lags: Close closes the new
    position at once; Adopt is kept and applied as soon as the old trade is journaled (not "already managed")."""
    rig = make_rig(mode="auto")
    rig.engine.positions.unknown_wait = timedelta(hours=1)  # nothing decided by default meanwhile
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    sim.faults.configure(closed_pnl_lag_ms=600_000)
    await rig.client.place_order(symbol=SYMBOL, side="Sell", qty=fill.qty + Decimal("0.01"), order_link_id="web-1")
    await rig.engine.tick(SYMBOL)
    out = await rig.engine.decide_unknown(SYMBOL, "adopt")
    assert "already managed" not in out.text and "noted" in out.text
    sim.faults.configure()
    await rig.engine.tick(SYMBOL)
    old, new = _trades(db)
    assert old.status == "closed" and (new.status, new.side, new.adopted) == ("open", "Sell", True)

    sim.step(1)  # later (the simulator's clock moves with the price path)
    sim.faults.configure(closed_pnl_lag_ms=600_000)  # the other way round, and this time: Close
    await rig.client.place_order(symbol=SYMBOL, side="Buy", qty=Decimal("0.03"), order_link_id="web-2")
    await rig.engine.tick(SYMBOL)
    out = await rig.engine.decide_unknown(SYMBOL, "close")
    assert rig.position() is None, out.text  # the new position is closed at once
    sim.faults.configure()
    await rig.engine.tick(SYMBOL)
    trades = _trades(db)
    assert [(t.side, t.status) for t in trades] == [("Buy", "closed"), ("Sell", "closed")]
    assert trades[1].exit_qty == Decimal("0.01")  # the adopted trade's own row only (not the new one's close)
