"""Trading by hand through the real python-telegram-bot stack and the simulator: /long and /short cards, partial
/close, /sl and /tp, the pickers; a whole cycle's journal equals the exchange's closed PnL to the cent."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlmodel import select

from storage.db import session_scope
from storage.models import Confirmation, TradeRecord
from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import Rig
from tests.waiting import until


def trade(rig: Rig) -> TradeRecord:
    with session_scope(rig.deps.journal.db) as s:
        return s.exec(select(TradeRecord).order_by(TradeRecord.id.desc())).first()  # type: ignore[union-attr]


def position(rig: Rig) -> dict:
    found = [p for p in rig.sim.state()["positions"] if Decimal(p["size"]) > 0]
    assert len(found) == 1, found
    return found[0]


def money(text: str, label: str) -> Decimal:
    m = re.search(label + r" ≈? ?([+\-−]?[\d,]+(?:\.\d+)?)", text)
    assert m, (label, text)
    return Decimal(m.group(1).replace(",", "").replace("−", "-"))


async def manual_card(rig: Rig, line: str):
    before = {m.message_id for m in rig.hub.sent()}
    rig.hub.push_message(42, line)
    return await rig.hub.wait_for(lambda m: m.message_id not in before and bool(m.buttons)
                                  and m.buttons[0][0][1].startswith("ap:"))


async def test_long_card_is_the_signal_card_marked_manual_and_approve_enters(rig: Rig) -> None:
    card = await manual_card(rig, "/long BTC 1.8atr")
    text = card.plain
    for part in ("LONG BTCUSDT", "Manual trade (asked by @user42)", "Risk after fees", "Fees in it", "SL", "TP",
                 "reward:risk after fees", "Liquidation", "Signal now: Score"):
        assert part in text, part
    price, sl = money(text, "Price"), money(text, "SL")
    with session_scope(rig.deps.journal.db) as s:
        conf = s.exec(select(Confirmation)).one()
        assert conf.origin == "manual" and conf.signal_id is None
    await rig.tap(card, "Approve")
    assert "Executed (@user42): Filled" in card.plain
    t = trade(rig)
    assert t.origin == "manual" and t.status == "open" and t.sl == sl and t.confirmation_id == conf.id
    assert Decimal(position(rig)["stopLoss"]) == sl  # protected on the exchange from the fill
    assert sl < price


async def test_stop_as_a_price_is_the_stop_exactly(rig: Rig) -> None:
    price = Decimal(rig.sim.state()["prices"][SYMBOL])
    stop = (price * Decimal("1.01")).quantize(Decimal("0.1"))
    card = await manual_card(rig, f"/short {SYMBOL} {stop}")
    assert "SHORT BTCUSDT" in card.plain and money(card.plain, "SL") == stop


async def test_manual_entry_refused_by_a_protection_with_the_reason(rig: Rig) -> None:
    await rig.send("/stop")
    out = await rig.send(f"/long {SYMBOL}")
    assert "Not asked: the bot is paused" in out.plain and "does not override" in out.plain
    await rig.send("/resume")
    card = await manual_card(rig, f"/long {SYMBOL}")
    await rig.tap(card, "Approve")
    out = await rig.send(f"/short {SYMBOL}")
    assert f"Not asked: a {SYMBOL} position is already open" in out.plain


async def test_bad_arguments_get_the_usage_line(rig: Rig) -> None:
    for line, expected in ((f"/long {SYMBOL} lots", "is neither a price nor an ATR multiple"),
                           ("/long", "Usage: /long SYMBOL [stop]"), (f"/long {SYMBOL} 0atr", "must be above 0"),
                           (f"/tp {SYMBOL}", "Usage: /tp SYMBOL PRICE"), (f"/sl {SYMBOL} abc", "is not a price"),
                           (f"/close {SYMBOL} 150%", "at most 100"), ("/long ETH", "ETHUSDT is not on the watch list")):
        assert expected in (await rig.send(line)).plain, line


async def test_whole_cycle_stop_moved_half_closed_rest_stopped_out(rig: Rig) -> None:
    card = await manual_card(rig, f"/long {SYMBOL}")
    await rig.tap(card, "Approve")
    t = trade(rig)
    entry_qty, old_sl = t.qty, t.sl
    # a looser stop: the question shows the loss at the new stop after fees; Move it
    looser = old_sl - Decimal(100)
    ask = await rig.send(f"/sl {SYMBOL} {looser}")
    assert "further away" in ask.plain and "after fees" in ask.plain
    assert money(ask.plain, "would then lose") > money(ask.plain, r"\(now:")
    await rig.tap(ask, "⚠️ Move it")
    assert "Done" in ask.plain and Decimal(position(rig)["stopLoss"]) == looser
    t = trade(rig)
    assert t.sl == looser and t.stop_history[-1]["reason"] == "manual" and t.stop_history[-1]["by"] == "@user42"
    # a tighter stop moves at once
    tighter = looser + Decimal(50)
    assert "Stop" in (await rig.send(f"/sl {SYMBOL} {tighter}")).plain
    assert Decimal(position(rig)["stopLoss"]) == tighter
    # the target
    target = t.tp + Decimal(10)
    assert "Target" in (await rig.send(f"/tp {SYMBOL} {target}")).plain
    assert Decimal(position(rig)["takeProfit"]) == target and trade(rig).tp == target
    # half off: the question shows the exit fee and the net
    ask = await rig.send(f"/close {SYMBOL} 50%")
    assert "Net ≈" in ask.plain and "exit fee ≈" in ask.plain and "the rest stays open" in ask.plain
    label = ask.buttons[0][0][0]
    half = Decimal(label.split()[1])  # rounded down to the qty step
    assert 0 < entry_qty / 2 - half < Decimal("0.001")
    await rig.tap(ask, label)
    assert "still open" in ask.plain and Decimal(position(rig)["size"]) == entry_qty - half
    assert trade(rig).qty == entry_qty - half and trade(rig).status == "open"
    # the rest is stopped out on the exchange; the next tick journals the whole trade
    rig.sim.set_price(SYMBOL, tighter - Decimal(1))
    await rig.tick()
    def closed() -> TradeRecord | None:
        found = trade(rig)
        return found if found.status == "closed" else None
    t = await until(closed, limit=10)
    rows = await rig.deps.client.closed_pnl(SYMBOL)
    assert len(rows) == 2
    assert t.pnl == sum((r.closed_pnl for r in rows), Decimal(0))  # the exchange's closed PnL, to the cent
    assert t.exit_qty == entry_qty and t.origin == "manual"


async def test_pickers_list_positions_as_single_use_buttons(rig: Rig) -> None:
    assert "No open positions" in (await rig.send("/close")).plain
    card = await manual_card(rig, f"/long {SYMBOL}")
    await rig.tap(card, "Approve")
    pick = await rig.send("/sl")
    assert "move the stop of" in pick.plain and pick.buttons[0][0][1].startswith("pk:")
    await rig.tap(pick, f"{SYMBOL} long")
    hint = await rig.hub.wait_for(lambda m: "Move them with /sl" in m.plain)
    assert "Stop " in hint.plain
    pick = await rig.send("/close")
    data = rig.hub.button(pick, f"{SYMBOL} long")
    await rig.tap(pick, f"{SYMBOL} long")
    ask = await rig.hub.wait_for(lambda m: "the whole position" in m.plain and bool(m.buttons))
    assert pick.buttons == [] and "Done (@user42)" in pick.plain
    await rig.tap_data(pick, data)  # single use: a second tap only hears it was decided
    assert "Already decided: Pick by @user42" in rig.hub.answers[-1].text
    await rig.tap(ask, f"Close {SYMBOL}")
    assert "closed" in ask.plain and not [p for p in rig.sim.state()["positions"] if Decimal(p["size"]) > 0]


async def test_stop_on_the_wrong_side_of_the_mark_is_refused(rig: Rig) -> None:
    card = await manual_card(rig, f"/long {SYMBOL}")
    await rig.tap(card, "Approve")
    mark = Decimal(position(rig)["markPrice"])
    assert "must be below the mark price" in (await rig.send(f"/sl {SYMBOL} {mark + 100}")).plain
    assert "must be above the mark price" in (await rig.send(f"/tp {SYMBOL} {mark - 100}")).plain
    assert "price tick" in (await rig.send(f"/sl {SYMBOL} {mark - Decimal('100.01')}")).plain


async def test_the_bots_management_never_undoes_a_stop_loosened_by_hand(rig: Rig) -> None:
    card = await manual_card(rig, f"/long {SYMBOL}")
    await rig.tap(card, "Approve")
    looser = trade(rig).sl - Decimal(300)
    ask = await rig.send(f"/sl {SYMBOL} {looser}")
    await rig.tap(ask, "⚠️ Move it")
    for _ in range(3):  # ticks run the break-even / trailing management and the protection check
        await rig.tick()
        assert Decimal(position(rig)["stopLoss"]) >= looser
    assert trade(rig).sl >= looser and [h["reason"] for h in trade(rig).stop_history][:2] == ["initial", "manual"]


async def test_a_manual_card_re_asked_after_the_price_moved_keeps_its_stop_distance(rig: Rig) -> None:
    price = Decimal(rig.sim.state()["prices"][SYMBOL])
    stop = (price * Decimal("0.99")).quantize(Decimal("0.1"))
    card = await manual_card(rig, f"/long {SYMBOL} {stop}")
    distance = money(card.plain, "Price") - money(card.plain, "SL")
    atr = rig.deps.engine.market.last_signals[SYMBOL].atr
    rig.sim.set_price(SYMBOL, price + atr * 2)
    await rig.tap(card, "Approve")
    assert "Stale" in card.plain and rig.orders() == []
    fresh = await rig.hub.wait_for(lambda m: "Fresh numbers" in m.plain and bool(m.buttons))
    assert "Manual trade" in fresh.plain
    assert money(fresh.plain, "Price") - money(fresh.plain, "SL") == distance
    await rig.tap(fresh, "Approve")
    assert "Executed" in fresh.plain and trade(rig).origin == "manual"


async def test_a_maker_first_trades_target_is_shown_and_moved_as_its_limit_order(make_rig) -> None:
    """Maker first (the default [execution]): the take-profit is a Partial limit order, not the position's own
    (position/trading-stop.mdx tpslMode Partial; position.mdx shows only Full-mode TP/SL). The pickers and /tp
    read it, and /tp moves that order (a new one, then the old cancelled): never a second, market target."""
    from tradebot.sizing.execution import ExecutionSettings

    rig = await make_rig(execution=ExecutionSettings(mode="maker_first", reprice_max=0, reprice_window_s=1))
    await rig.hub.wait_for(lambda m: "Started" in m.plain)
    card = await manual_card(rig, f"/long {SYMBOL}")
    await rig.tap(card, "Approve")  # answered when the limit rests; the card shows the end of the entry
    await until(lambda: "Executed" in card.plain, limit=10)
    await rig.hub.wait_for(lambda m: m.plain.startswith("🟢 Filled LONG"))  # the fill alert, before our commands
    assert trade(rig).status == "open"
    [tp] = [o for o in await rig.deps.client.open_orders(SYMBOL) if o.stop_order_type == "PartialTakeProfit"]
    assert position(rig)["takeProfit"] in ("", "0")  # not on the position row
    picker = await rig.send("/sl")
    assert f"TP {tp.price:,}" in picker.plain, picker.plain
    target = tp.price + Decimal(10)
    answer = await rig.send(f"/tp {SYMBOL} {target}")
    assert f"Target {tp.price:,} → {target:,}" in answer.plain, answer.plain
    tps = [o for o in await rig.deps.client.open_orders(SYMBOL) if o.stop_order_type == "PartialTakeProfit"]
    assert [(o.price, o.order_type) for o in tps] == [(target, "Limit")]
    assert position(rig)["takeProfit"] in ("", "0") and trade(rig).tp == target
