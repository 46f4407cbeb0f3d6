"""Approve re-sizes at the tap (issue 19, item 2): the card's promise is its risk, so the entry sent is sized from the
price, balance and risk % when the person taps, and a stop-out never loses more than the card said (after fees,
within one qtyStep) nor more than risk_pct of the balance at the tap. On the old code the card's qty and stop were
sent as they were: each test here failed (a stop-out lost 1.1× the card's risk; /risk lowered was ignored)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.conftest import SYMBOL
from tradebot.events import ConfirmationNeeded
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument
from tradebot.sizing.risk import RiskParams, size_position
from tradebot.text import num
from tradebot.tick.resize import size_at_tap

D = Decimal
INST = Instrument(symbol=SYMBOL, tick_size=D("0.10"), qty_step=D("0.001"), min_qty=D("0.001"), max_qty=D("1190"),
                  max_mkt_qty=D("500"), min_notional=D("5"), max_leverage=D("100"))  # Bybit's BTCUSDT rules


def loss_at_stop(side: Side, qty: Decimal, entry: Decimal, sl: Decimal, fee: Decimal) -> Decimal:
    """What a stop-out loses: price move + taker fee on the entry + taker fee at the stop (no slippage)."""
    return qty * (side.sign * (entry - sl) + fee * (entry + sl))


def entry_order(sim) -> dict:
    with sim.lock:
        [link] = [k for k in sim.exchange.link_ids if k.startswith("en-")]
        return sim.exchange.find_order(link_id=link).wire()


async def test_a_card_approved_after_the_price_moved_against_it_risks_no_more_than_the_card(make_rig, sim):
    rig = make_rig(mode="confirm", max_fee_share="1")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    atr = card.signal.atr
    sim.set_price(SYMBOL, card.price + atr * Decimal("0.45"))  # a long's entry 0.45 ATR worse: inside the drift limit
    out = await rig.engine.desk.approve(card.confirmation_id, 42)
    assert out.status == "executed", out.text
    order, pos = entry_order(sim), rig.position()
    qty, entry, sl = Decimal(pos["size"]), Decimal(pos["avgPrice"]), Decimal(order["stopLoss"])
    fee = rig.engine.gate.fee_rate(SYMBOL)
    assert loss_at_stop(Side.BUY, qty, entry, sl, fee) <= card.risk_usdt
    assert qty < card.qty and "size changed at the tap" in out.text and f"→ {qty.normalize():f}" in out.text
    assert f"price {num(card.price)} → {num(Decimal(sim.state()['prices'][SYMBOL]))}" in out.text  # and why


async def test_a_card_approved_after_risk_was_lowered_risks_the_new_percent(make_rig, sim):
    rig = make_rig(mode="confirm", risk_pct="1", max_fee_share="1")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    await rig.engine.set_risk(Decimal("0.5"))
    available = (await rig.client.wallet()).available  # the balance at the tap
    out = await rig.engine.desk.approve(card.confirmation_id, 42)
    assert out.status == "executed", out.text
    pos, order = rig.position(), entry_order(sim)
    qty, entry, sl = Decimal(pos["size"]), Decimal(pos["avgPrice"]), Decimal(order["stopLoss"])
    loss = loss_at_stop(Side.BUY, qty, entry, sl, rig.engine.gate.fee_rate(SYMBOL))
    assert loss <= available * Decimal("0.005")
    assert qty < card.qty and "0.5% of the available" in out.text


async def test_an_unchanged_card_trades_its_own_qty_and_says_nothing_more(make_rig, sim):
    rig = make_rig(mode="confirm", max_fee_share="1")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    out = await rig.engine.desk.approve(card.confirmation_id, 42)
    assert out.status == "executed" and "size changed" not in out.text
    assert Decimal(rig.position()["size"]) == card.qty and Decimal(entry_order(sim)["stopLoss"]) == card.sl


async def test_the_drift_limit_still_refuses_and_asks_again(make_rig, sim):
    rig = make_rig(mode="confirm", max_fee_share="1")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    sim.set_price(SYMBOL, card.price + card.signal.atr * Decimal("0.6"))
    out = await rig.engine.desk.approve(card.confirmation_id, 42)
    assert out.status == "stale" and rig.position() is None


RISK = RiskParams.model_validate({"max_fee_share": "1", "trailing_mode": "bot"})


@settings(max_examples=300, deadline=None)
@given(side=st.sampled_from([Side.BUY, Side.SELL]), drift=st.integers(-50, 50), pct=st.sampled_from(["0.25", "1", "2"]),
       balance=st.integers(200, 200_000), later=st.integers(100, 300_000), fee=st.sampled_from(["0.00055", "0.0002"]))
def test_the_tap_never_risks_more_than_the_card_or_the_percent_now(side, drift, pct, balance, later, fee):
    """Property: whatever moved between the card and the tap (price within ±0.5 ATR, balance, risk %), the entry
    sent loses at its stop (after fees, slippage allowance included) no more than the card said nor risk_pct of the
    balance at the tap, each within one qtyStep, and never trades more than the card's qty."""
    price, atr, fee_rate = Decimal("60000"), Decimal("300"), Decimal(fee)
    card = size_position(side=side, entry_price=price, atr=atr, available_balance=Decimal(balance), inst=INST,
                         params=RISK, fee_rate=fee_rate)
    if not card.ok:
        return
    last = price + atr * drift / 100
    now = RISK.model_copy(update={"risk_pct": Decimal(pct)})
    tap = size_at_tap(side=side, card_qty=card.qty, card_price=price, card_risk=card.risk_usdt, last=last, atr=atr,
                      available=Decimal(later), inst=INST, params=now, fee_rate=fee_rate)
    if not tap.ok:
        return
    per_coin = tap.risk_usdt / tap.qty
    slack = INST.qty_step * per_coin
    assert tap.qty <= card.qty
    assert tap.risk_usdt <= card.risk_usdt + slack
    assert tap.risk_usdt <= Decimal(later) * Decimal(pct) / 100 + slack
    assert loss_at_stop(side, tap.qty, last, tap.sl, fee_rate) <= tap.risk_usdt
    assert (tap.changed is None) == (tap.qty == card.qty)
