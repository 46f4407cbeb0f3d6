"""Manual trading's pure parts (tradebot/chat/manual.py, tradebot/sizing/stopspec.py): a stop given as a price is the card's
stop exactly and the risk after fees stays within risk_pct; an ATR stop is at least that far; the loss /sl shows
is the sizing's own formula; a partial close never takes more than the position nor leaves less than the minimum."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebot.bybit.account_models import Position
from tradebot.chat.manual import Amount, close_qty, loss_at, manual_sizing
from tradebot.errors import ArgumentError, UserError
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument, is_multiple
from tradebot.sizing.risk import RiskParams
from tradebot.sizing.stopspec import StopSpec, parse_stop

INST = Instrument(symbol="BTCUSDT", tick_size=Decimal("0.1"), qty_step=Decimal("0.001"), min_qty=Decimal("0.001"),
                  max_qty=Decimal(100), max_mkt_qty=Decimal(100), min_notional=Decimal(5),
                  max_leverage=Decimal(100))
PARAMS = RiskParams.model_validate({"risk_pct": "1"})
FEE = Decimal("0.00055")
prices = st.integers(100_000, 1_000_000).map(lambda t: Decimal(t) / 10)  # 10,000.0 .. 100,000.0 on the tick
sides = st.sampled_from([Side.BUY, Side.SELL])


@given(side=sides, price=prices, ticks=st.integers(20, 20_000), atr=st.integers(50, 5_000).map(Decimal),
       available=st.integers(1_000, 100_000).map(Decimal))
def test_a_stop_price_is_the_cards_stop_and_risk_stays_within_risk_pct(side, price, ticks, atr, available) -> None:
    stop = price - side.sign * INST.tick_size * ticks
    sizing = manual_sizing(side=side, price=price, atr=atr, stop=StopSpec(price=stop), inst=INST, params=PARAMS,
                           available=available, fee_rate=FEE)
    if not sizing.ok:
        return
    assert sizing.sl == stop
    assert sizing.risk_usdt <= available * PARAMS.risk_pct / 100
    assert sizing.risk_usdt == loss_at(side, price, stop, sizing.qty, FEE, PARAMS.slippage_pct)  # /sl's figure
    assert side.sign * (sizing.tp - price) > 0


@given(side=sides, price=prices, mult=st.sampled_from(["0.5", "1", "1.8", "3"]),
       atr=st.integers(50, 2_000).map(Decimal))
def test_an_atr_stop_is_at_least_that_many_atrs_away(side, price, mult, atr) -> None:
    spec = parse_stop(f"{mult}atr")
    sizing = manual_sizing(side=side, price=price, atr=atr, stop=spec, inst=INST, params=PARAMS,
                           available=Decimal(50_000), fee_rate=FEE)
    if sizing.ok:
        assert side.sign * (price - sizing.sl) >= Decimal(mult) * atr and is_multiple(sizing.sl, INST.tick_size)


def test_a_stop_on_the_wrong_side_or_off_the_tick_is_refused() -> None:
    kw = {"price": Decimal(50_000), "atr": Decimal(100), "inst": INST, "params": PARAMS,
          "available": Decimal(10_000), "fee_rate": FEE}
    with pytest.raises(UserError, match="must be below the price"):
        manual_sizing(side=Side.BUY, stop=StopSpec(price=Decimal(50_100)), **kw)
    with pytest.raises(UserError, match="must be above the price"):
        manual_sizing(side=Side.SELL, stop=StopSpec(price=Decimal(49_900)), **kw)
    with pytest.raises(UserError, match="price tick"):
        manual_sizing(side=Side.BUY, stop=StopSpec(price=Decimal("49900.05")), **kw)
    for raw in ("0atr", "51atr", "-3", "abc", "1.8 atr"):
        with pytest.raises(ArgumentError):
            parse_stop(raw)


def position(size: Decimal) -> Position:
    return Position.from_api({"symbol": "BTCUSDT", "side": "Buy", "size": str(size), "avgPrice": "50000",
                                    "markPrice": "50000", "positionValue": str(size * 50000), "leverage": "5",
                                    "unrealisedPnl": "0", "stopLoss": "", "takeProfit": "", "trailingStop": "0"})


@given(size=st.integers(1, 5_000).map(lambda n: Decimal(n) / 1000),
       amount=st.one_of(st.integers(1, 100).map(lambda p: Amount(Decimal(p), True)),
                        st.integers(1, 6_000).map(lambda n: Amount(Decimal(n) / 1000, False))))
def test_a_partial_close_takes_at_most_the_position_and_leaves_at_least_the_minimum(size, amount) -> None:
    try:
        qty = close_qty(amount, position(size), INST)
    except UserError:  # below the minimum qty: refused with the reason
        return
    assert 0 < qty <= size and is_multiple(qty, INST.qty_step)
    assert qty == size or size - qty >= INST.min_qty
