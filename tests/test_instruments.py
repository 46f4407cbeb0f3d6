"""Tests for instrument rounding, order-rule checks and wire formatting."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.errors import OrderRuleError, UserError
from tradebot.sizing.instruments import (
    Instrument,
    check_order,
    format_decimal,
    is_multiple,
    round_price,
    round_qty,
    stop_price,
    take_profit_price,
)

BTC = Instrument(
    symbol="BTCUSDT",
    tick_size=D("0.10"),
    qty_step=D("0.001"),
    min_qty=D("0.001"),
    max_qty=D("1190.000"),
    max_mkt_qty=D("500.000"),
    min_notional=D("5"),
    max_leverage=D("100.00"),
)

TICKS = [D("0.0001"), D("0.001"), D("0.01"), D("0.05"), D("0.1"), D("0.5"), D("1")]
STEPS = [D("0.001"), D("0.01"), D("0.1"), D("1")]
HYPO = settings(deadline=None, max_examples=200)


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    """Random but realistic instrument rules."""
    step = draw(st.sampled_from(STEPS))
    min_qty = step * draw(st.integers(1, 5))
    return Instrument(
        symbol="TESTUSDT",
        tick_size=draw(st.sampled_from(TICKS)),
        qty_step=step,
        min_qty=min_qty,
        max_qty=step * draw(st.integers(10**5, 10**8)),
        max_mkt_qty=step * draw(st.integers(10**4, 10**5)),
        min_notional=draw(st.sampled_from([D("0"), D("1"), D("5"), D("10")])),
        max_leverage=draw(st.sampled_from([D("25"), D("50"), D("100")])),
    )


prices = st.decimals(
    min_value=D("0.0001"), max_value=D("200000"), places=6, allow_nan=False, allow_infinity=False
)
qtys = st.decimals(min_value=D("0"), max_value=D("10000000"), places=6, allow_nan=False, allow_infinity=False)


# --- table tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "market", "expected"),
    [
        (D("0.0019"), True, D("0.001")),
        (D("0.001"), True, D("0.001")),
        (D("0.0009"), True, D("0")),
        (D("1.23456"), True, D("1.234")),
        (D("0"), True, D("0")),
        (D("600"), True, D("500")),  # capped at maxMktOrderQty
        (D("600"), False, D("600")),  # limit orders may go to maxOrderQty
        (D("2000.5"), False, D("1190")),
    ],
)
def test_round_qty_table(qty: D, market: bool, expected: D) -> None:
    assert round_qty(qty, BTC, market=market) == expected


@pytest.mark.parametrize(
    ("price", "direction", "expected"),
    [
        (D("100.05"), "down", D("100.0")),
        (D("100.05"), "up", D("100.1")),
        (D("100.05"), "nearest", D("100.1")),  # ties away from zero
        (D("100.04"), "nearest", D("100.0")),
        (D("100.0"), "up", D("100.0")),
        (D("100.0"), "down", D("100.0")),
        (D("-0.05"), "down", D("-0.1")),
        (D("-0.05"), "up", D("0")),
    ],
)
def test_round_price_table(price: D, direction: str, expected: D) -> None:
    assert round_price(price, BTC, direction) == expected  # type: ignore[arg-type]


def test_round_price_half_tick() -> None:
    inst = Instrument("XUSDT", D("0.5"), D("1"), D("1"), D("1000"), D("100"), D("5"), D("50"))
    assert round_price(D("10.7"), inst, "down") == D("10.5")
    assert round_price(D("10.7"), inst, "up") == D("11")
    assert round_price(D("10.7"), inst, "nearest") == D("10.5")
    assert round_price(D("10.8"), inst, "nearest") == D("11")


def test_stop_and_take_profit_round_toward_entry() -> None:
    # Long entry 100: SL below (round UP = closer), TP above (round DOWN = closer).
    assert stop_price(D("99.55"), BTC, "Buy") == D("99.6")
    assert take_profit_price(D("101.99"), BTC, "Buy") == D("101.9")
    # Short entry 100: SL above (round DOWN), TP below (round UP).
    assert stop_price(D("100.45"), BTC, "Sell") == D("100.4")
    assert take_profit_price(D("98.01"), BTC, "Sell") == D("98.1")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("0.010"), "0.01"),
        (D("1E+2"), "100"),
        (D("1.5E-7"), "0.00000015"),
        (D("50000.00"), "50000"),
        (D("0"), "0"),
        (D("-0.00"), "0"),
        (D("-1.250"), "-1.25"),
        (7, "7"),
    ],
)
def test_format_decimal(value: D, text: str) -> None:
    assert format_decimal(value) == text


@pytest.mark.parametrize(
    ("qty", "price", "market", "message"),
    [
        (D("0.0004"), D("50000"), True, "qty 0.0004 is below BTCUSDT's minimum order qty 0.001"),
        (D("0.001"), D("3200"), True, "order value 3.2 USDT is below the 5 USDT minimum for BTCUSDT"),
        (D("0.0015"), D("50000"), True, "qty 0.0015 is not a multiple of BTCUSDT's qty step 0.001"),
        (D("501"), D("50000"), True, "qty 501 is above BTCUSDT's maximum market order qty 500"),
        (D("1191"), D("50000"), False, "qty 1191 is above BTCUSDT's maximum limit order qty 1190"),
        (D("0.01"), D("50000.05"), False, "price 50000.05 is not a multiple of BTCUSDT's tick size 0.1"),
        (D("0"), D("50000"), True, "qty 0 must be greater than 0"),
        (D("0.01"), D("0"), True, "price 0 must be greater than 0"),
    ],
)
def test_check_order_refusals(qty: D, price: D, market: bool, message: str) -> None:
    with pytest.raises(OrderRuleError) as exc:
        check_order(qty, price, BTC, market=market)
    assert str(exc.value) == message
    assert isinstance(exc.value, UserError)  # shown in chat as is


def test_check_order_accepts_valid_orders() -> None:
    check_order(D("0.001"), D("5000"), BTC)  # exactly the 5 USDT minimum
    check_order(D("500"), D("50000.05"), BTC, market=True)  # market: expected price need not be on tick
    check_order(D("1190"), D("50000.1"), BTC, market=False)


@pytest.mark.parametrize("bad", [0.001, 1.5, True, "0.001", None])
def test_floats_and_non_decimals_are_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="Decimal"):
        round_qty(bad, BTC)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Decimal"):
        round_price(bad, BTC, "down")  # type: ignore[arg-type]


def test_non_finite_and_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        round_price(D("NaN"), BTC, "up")
    with pytest.raises(ValueError, match="direction"):
        round_price(D("1"), BTC, "sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="side"):
        stop_price(D("1"), BTC, "Long")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        round_qty(D("-1"), BTC)


def test_instrument_validation() -> None:
    with pytest.raises(ValueError, match="tick_size must be > 0"):
        Instrument("X", D("0"), D("1"), D("1"), D("10"), D("10"), D("5"), D("10"))
    with pytest.raises(ValueError, match="min_qty"):
        Instrument("X", D("0.1"), D("1"), D("100"), D("10"), D("10"), D("5"), D("10"))
    with pytest.raises(TypeError, match="Decimal"):
        Instrument("X", 0.1, D("1"), D("1"), D("10"), D("10"), D("5"), D("10"))  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        BTC.tick_size = D("1")  # type: ignore[misc]


# --- invariants --------------------------------------------------------------------------------------------


@HYPO
@given(inst=instruments(), qty=qtys, market=st.booleans())
def test_round_qty_never_exceeds_raw_and_is_on_step(inst: Instrument, qty: D, market: bool) -> None:
    rounded = round_qty(qty, inst, market=market)
    cap = inst.max_mkt_qty if market else inst.max_qty
    assert 0 <= rounded <= qty
    assert rounded <= cap
    assert is_multiple(rounded, inst.qty_step)
    assert min(qty, cap) - rounded < inst.qty_step  # the largest step multiple not above the input


@HYPO
@given(inst=instruments(), price=prices)
def test_round_price_is_on_tick_and_in_direction(inst: Instrument, price: D) -> None:
    tick = inst.tick_size
    down, up, near = (round_price(price, inst, d) for d in ("down", "up", "nearest"))  # type: ignore[arg-type]
    for p in (down, up, near):
        assert is_multiple(p, tick)
    assert down <= price <= up
    assert up - down in (D(0), tick)
    assert abs(near - price) * 2 <= tick


@HYPO
@given(inst=instruments(), price=prices)
def test_stop_and_tp_rounding_never_farther_from_entry(inst: Instrument, price: D) -> None:
    # For a long the entry is above the SL and below the TP (and the reverse for a short).
    assert stop_price(price, inst, "Buy") >= price
    assert stop_price(price, inst, "Sell") <= price
    assert take_profit_price(price, inst, "Buy") <= price
    assert take_profit_price(price, inst, "Sell") >= price


@HYPO
@given(value=st.decimals(allow_nan=False, allow_infinity=False, min_value=D("-1e12"), max_value=D("1e12")))
def test_format_decimal_round_trips_without_exponent(value: D) -> None:
    text = format_decimal(value)
    assert "E" not in text.upper()
    assert D(text) == value
    if "." in text:
        assert not text.endswith("0")
