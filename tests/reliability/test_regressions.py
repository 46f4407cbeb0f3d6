"""Regressions for engine bugs the reliability runs exposed (each fixed in tradebot/ and listed in RELIABILITY.md)."""

from __future__ import annotations

from decimal import Decimal

from storage.db import session_scope
from storage.trades import get_open_trade
from tests.engine.conftest import SYMBOL, trend_rows
from tradebot.events import ConfirmationNeeded, EntryFilled, StopMoved


async def test_wick_before_entry_does_not_move_the_stop(make_rig):
    """The last closed bar's high counted as the "best price since entry" even when it was printed before the
    entry: a pre-entry wick trailed the stop to one tick under the market on the first tick after the fill."""
    rows = trend_rows(300)
    t, o, h, lo, c, v = rows[249]  # the last closed bar when trading starts (warmup 250)
    rows[249] = (t, o, str(float(h) + 2000), lo, c, v)
    rig = make_rig(rows, mode="confirm", trailing="bot")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    assert (await rig.engine.desk.approve(card.confirmation_id, 1)).status == "executed"
    await rig.engine.tick(SYMBOL)  # the price has not moved since the fill
    assert not rig.events.of(StopMoved)
    assert Decimal(rig.position()["stopLoss"]) == card.sl


async def test_failed_manual_close_of_a_short_keeps_its_best_price(make_rig, db):
    """engine.close() syncs with last_price=0; for a short that made 0 the "best" (lowest) price, and the next
    tick trailed the stop to one tick above the market."""
    rig = make_rig(trend_rows(300, step=-5.0), mode="auto", trailing="bot")
    await rig.engine.tick(SYMBOL)
    [fill] = rig.events.of(EntryFilled)
    assert fill.side == "Sell"
    sl_before = Decimal(rig.position()["stopLoss"])
    rig.sim.faults.configure(next_n={"http5xx": 40}, paths=["/v5/order/create"])
    out = await rig.engine.close(SYMBOL)  # the close cannot get through: the position stays open
    rig.sim.faults.clear()
    assert "unknown" in out.text and rig.position() is not None
    with session_scope(db) as s:
        trade = get_open_trade(session=s, symbol=SYMBOL)
        assert trade is not None and (trade.best_price is None or trade.best_price > 0)
    await rig.engine.tick(SYMBOL)
    assert Decimal(rig.position()["stopLoss"]) == sl_before


async def test_card_whose_stop_the_price_crossed_is_re_asked_not_rejected(make_rig):
    """Approving a card after the price crossed its SL (inside the drift limit) sent an order Bybit rejects
    (10001 "StopLoss ... should be lower than base_price"); now it is re-asked with fresh numbers."""
    rig = make_rig(mode="confirm", trailing="bot")
    rig.engine.cfg.file.bot.__dict__["max_price_drift_atr"] = 5.0  # a wide drift limit, wider than sl_atr
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    rig.sim.set_price(SYMBOL, card.sl - Decimal("5"))  # a long card: price now below its stop
    out = await rig.engine.desk.approve(card.confirmation_id, 1)
    assert out.status == "stale", out.text
    assert not [e for e in rig.sim.state()["executions"] if e["execType"] == "Trade"]
    fresh = rig.events.of(ConfirmationNeeded)[-1]
    assert fresh.replaces == card.confirmation_id and fresh.sl < fresh.price


async def test_confirmation_claimed_by_a_killed_process_is_settled_at_start(make_rig, db):
    """A process killed between the claim (approved) and the order write left the card "approved" forever;
    replays answered "Already handled (approved)" and nothing ever settled it. Now start() marks it failed
    (no order was sent: nothing traded), or executed when the journal shows the fill."""
    from datetime import timedelta

    from storage import repo

    rig = make_rig(mode="confirm")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    with session_scope(db) as s:  # the dead process got this far: claimed, nothing sent
        assert repo.claim_confirmation(session=s, id=card.confirmation_id, user_id=1,
                                       now=rig.engine.clock() - timedelta(seconds=1))
    restarted = make_rig(mode="confirm")
    restarted.sim = rig.sim
    restarted.client._http._transport = rig.sim.transport()
    await restarted.engine.start()
    with session_scope(db) as s:
        assert repo.get_confirmation(session=s, id=card.confirmation_id).status == "failed"
    assert (await restarted.engine.desk.approve(card.confirmation_id, 1)).status == "already"
    assert not [e for e in rig.sim.state()["executions"] if e["execType"] == "Trade"]


async def test_tick_status_time_is_the_wall_clock_on_a_replayed_market(make_rig):
    """A successful tick was stamped with the replayed market time (months ago), so the health job reported
    "no trading tick has completed for N s" while the loop ran every second (seen in the flood test)."""
    from datetime import UTC, datetime, timedelta

    rig = make_rig(mode="confirm")
    status = await rig.engine.tick(SYMBOL)
    assert status.ok and abs(datetime.now(UTC) - status.time) < timedelta(seconds=30)
    assert status.bar_time is not None and status.bar_time < status.time - timedelta(days=30)  # the market's bar


async def test_api_key_echoed_by_bybit_is_scrubbed_from_errors():
    """Bybit's 10004 retMsg echoes origin_string[<ts><API key><recv window><payload>]; the error text went into
    ErrorEvents and from there into the chat (seen in test_secrets)."""
    from proving.sim import Simulator
    from tradebot.bybit.client import BybitClient
    from tradebot.errors import AuthError

    sim = Simulator(api_key="Th3RealKeyValue", api_secret="server-side-secret")
    client = BybitClient("http://sim.local", "Th3RealKeyValue", "a-wrong-secret", transport=sim.transport())
    try:
        await client.wallet()
    except AuthError as exc:
        assert "10004" in str(exc) and "Th3RealKeyValue" not in str(exc) and "***" in str(exc)
    else:
        raise AssertionError("a wrong secret must fail")
    finally:
        await client.aclose()
        sim.close()
