"""Tests for exchange trailing specs, break-even and bot trailing stop updates."""

from __future__ import annotations

from decimal import Decimal
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.test_instruments import BTC, TICKS
from tradebot.care.stops import (
    StopUpdate,
    TrailingSpec,
    breakeven_price,
    exchange_trailing,
    next_stop,
    update_best,
)
from tradebot.sizing.instruments import Instrument, is_multiple
from tradebot.sizing.risk import RiskParams, size_position

HYPO = settings(deadline=None, max_examples=200)
EXCHANGE = RiskParams()
BOT = RiskParams(trailing_mode="bot")


def step(
    side: str = "Buy",
    *,
    sl: str | None = "49250",
    best: str | None = None,
    last: str = "50000",
    params: RiskParams = EXCHANGE,
    done: bool = False,
    entry: str = "50000",
    atr: str = "500",
) -> StopUpdate | None:
    return next_stop(
        side=side,  # type: ignore[arg-type]
        entry=D(entry),
        current_sl=None if sl is None else D(sl),
        best_price=None if best is None else D(best),
        last_price=D(last),
        atr=D(atr),
        inst=BTC,
        params=params,
        breakeven_done=done,
    )


# --- exchange trailing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "atr", "expected"),
    [
        ("Buy", "500", TrailingSpec(D("500"), D("50750"))),
        ("Sell", "500", TrailingSpec(D("500"), D("49250"))),
        ("Buy", "123.456", TrailingSpec(D("123.5"), D("50185.2"))),  # 185.184 -> nearest tick
        ("Sell", "123.456", TrailingSpec(D("123.5"), D("49814.8"))),
        ("Buy", "0.01", TrailingSpec(D("0.1"), D("50000.1"))),  # tiny ATR: one tick each
        ("Sell", "0.01", TrailingSpec(D("0.1"), D("49999.9"))),
    ],
)
def test_exchange_trailing_table(side: str, atr: str, expected: TrailingSpec) -> None:
    assert exchange_trailing(side=side, entry=D("50000"), atr=D(atr), inst=BTC, params=EXCHANGE) == expected  # type: ignore[arg-type]


def test_exchange_trailing_refuses_zero_atr() -> None:
    with pytest.raises(ValueError, match="ATR"):
        exchange_trailing(side="Buy", entry=D("50000"), atr=D("0"), inst=BTC, params=EXCHANGE)


# --- update_best -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "best", "price", "expected"),
    [
        ("Buy", None, "100", "100"),
        ("Buy", "105", "100", "105"),
        ("Buy", "105", "110", "110"),
        ("Sell", None, "100", "100"),
        ("Sell", "95", "100", "95"),
        ("Sell", "95", "90", "90"),
    ],
)
def test_update_best(side: str, best: str | None, price: str, expected: str) -> None:
    assert update_best(side, None if best is None else D(best), D(price)) == D(expected)  # type: ignore[arg-type]


# --- next_stop table ---------------------------------------------------------------------------------------


def test_no_update_before_breakeven_trigger() -> None:
    assert step(best="50499.9", last="50400") is None


@pytest.mark.parametrize(
    ("side", "sl", "best", "last", "expected"),
    [
        ("Buy", "49250", "50500", "50500", "50105.1"),  # 1 ATR up -> fee-covering entry + 0.1 ATR
        ("Buy", None, "50500", "50300", "50105.1"),  # no stop yet
        ("Buy", "0", "50500", "50300", "50105.1"),  # Bybit's "0" = no stop
        ("Sell", "50750", "49500", "49500", "49895"),
        ("Sell", None, "49400", "49700", "49895"),
    ],
)
def test_breakeven(side: str, sl: str | None, best: str, last: str, expected: str) -> None:
    assert step(side, sl=sl, best=best, last=last) == StopUpdate(D(expected), "breakeven")


def test_breakeven_only_once_and_only_if_it_tightens() -> None:
    assert step(best="50600", last="50600", done=True) is None
    assert step(sl="50200", best="50600", last="50600") is None  # already tighter than break-even
    assert step(sl="50105.05", best="50600", last="50600") is None  # less than one tick better


def test_exchange_mode_never_trails() -> None:
    assert step(sl="50050", best="52000", last="52000", done=True) is None
    assert step(sl="50050", best="52000", last="52000", done=True, params=BOT) == StopUpdate(
        D("51500"), "trailing"
    )


@pytest.mark.parametrize(
    ("side", "sl", "best", "last", "expected"),
    [
        ("Buy", "50050", "50750", "50750", "50250"),  # 1.5 ATR up: trail 1 ATR below the best
        ("Buy", "50050", "51000", "50800", "50500"),
        ("Sell", "49950", "49250", "49250", "49750"),
        ("Sell", "49950", "48000", "48100", "48500"),
    ],
)
def test_bot_trailing(side: str, sl: str, best: str, last: str, expected: str) -> None:
    assert step(side, sl=sl, best=best, last=last, params=BOT, done=True) == StopUpdate(
        D(expected), "trailing"
    )


def test_trailing_beats_breakeven_when_tighter() -> None:
    assert step(best="51000", last="51000", params=BOT) == StopUpdate(D("50500"), "trailing")


def test_bot_trailing_never_loosens() -> None:
    assert step(sl="50600", best="51000", last="50900", params=BOT, done=True) is None


@pytest.mark.parametrize(
    ("side", "best", "last", "expected"),
    [
        ("Buy", "51000", "50400", "50399.9"),  # wanted 50500 but the price is already below: one tick inside
        ("Buy", "51000", "50400.05", "50400"),  # off-grid last price
        ("Sell", "49000", "49600", "49600.1"),
    ],
)
def test_stop_beyond_last_price_is_clamped_one_tick_inside(
    side: str, best: str, last: str, expected: str
) -> None:
    update = step(side, sl=None, best=best, last=last, params=BOT, done=True)
    assert update == StopUpdate(D(expected), "trailing")


def test_best_price_is_updated_with_last_price() -> None:
    assert step(best="50000", last="50500") == StopUpdate(D("50105.1"), "breakeven")


def test_zero_atr_means_no_update() -> None:
    assert step(best="60000", last="60000", atr="0", params=BOT) is None


# --- invariants --------------------------------------------------------------------------------------------


@HYPO
@given(
    tick=st.sampled_from(TICKS),
    side=st.sampled_from(["Buy", "Sell"]),
    mode=st.sampled_from(["exchange", "bot"]),
    atr_ticks=st.integers(1, 2000),
    moves=st.lists(st.integers(-40, 40), min_size=1, max_size=80),  # price moves in tenths of an ATR
)
def test_random_path_stop_only_tightens_and_never_crosses_price(
    tick: D, side: str, mode: str, atr_ticks: int, moves: list[int]
) -> None:
    inst = Instrument("XUSDT", tick, D("0.001"), D("0.001"), D("1e6"), D("1e6"), D("5"), D("100"))
    params = RiskParams(trailing_mode=mode)  # type: ignore[arg-type]
    atr = tick * atr_ticks
    entry = atr * 1000
    s = 1 if side == "Buy" else -1
    spec = exchange_trailing(side=side, entry=entry, atr=atr, inst=inst, params=params)  # type: ignore[arg-type]
    assert spec.distance >= tick and is_multiple(spec.distance, tick)
    assert s * (spec.active_price - entry) >= tick and is_multiple(spec.active_price, tick)

    sl = entry - s * params.sl_atr * atr
    best: D | None = None
    done = False
    price = entry
    breakevens = 0
    for move in moves:
        price = max(tick, price + atr * move / 10)
        if s * (price - sl) <= 0:
            break  # stopped out
        best = update_best(side, best, price)  # type: ignore[arg-type]
        update = next_stop(
            side=side,
            entry=entry,
            current_sl=sl,
            best_price=best,
            last_price=price,  # type: ignore[arg-type]
            atr=atr,
            inst=inst,
            params=params,
            breakeven_done=done,
        )
        if update is None:
            continue
        assert s * (update.new_sl - sl) >= tick  # tightens by at least one tick
        assert s * (price - update.new_sl) > 0  # still on the losing side of the last price
        assert is_multiple(update.new_sl, tick) and update.new_sl > 0
        if mode == "exchange":
            assert update.reason == "breakeven"
        if update.reason == "breakeven":
            breakevens += 1
            done = True
        sl = update.new_sl
    assert breakevens <= 1


@settings(max_examples=200, deadline=None)
@given(entry=st.decimals(min_value=Decimal("100"), max_value=Decimal("100000"), places=1),
       atr_frac=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.05"), places=4),
       side=st.sampled_from(["Buy", "Sell"]),
       fee=st.decimals(min_value=Decimal("0"), max_value=Decimal("0.001"), places=5))
def test_breakeven_stop_covers_round_trip_taker_fees(entry, atr_frac, side, fee):
    """A stop-out at the break-even stop never loses money after entry and exit taker fees."""
    params = RiskParams(taker_fee_rate=fee, breakeven_offset_atr=Decimal("0"))
    atr = (entry * atr_frac).quantize(Decimal("0.1")) or Decimal("0.1")
    s = 1 if side == "Buy" else -1
    best = entry + s * atr * Decimal("5")
    upd = next_stop(side=side, entry=entry, current_sl=entry - s * atr * 2, best_price=best, last_price=best,
                    atr=atr, inst=BTC, params=params, breakeven_done=False)
    assert upd is not None and upd.reason == "breakeven"
    qty = Decimal("1")
    pnl = s * (upd.new_sl - entry) * qty - entry * qty * fee - upd.new_sl * qty * fee
    assert pnl >= 0


# --- issue 11 §1: break-even never below the fee-covering level; trailing activation never <= 0 ---------------

TENTH = Instrument("XUSDT", D("0.1"), D("0.001"), D("0.001"), D("1e6"), D("1e6"), D("5"), D("100"))


def test_breakeven_is_not_clamped_below_the_fee_covering_level() -> None:
    """The issue's example: Buy 100.0, ATR 0.5, tick 0.1, best 100.5, last 100.2. The fee-covering level is
    100 × 1.00055 / 0.99945 + 0.1 × 0.5 = 100.16; rounded up it is 100.2, at the price, and clamping it one tick
    inside gave 100.1, which loses money, and break-even was then marked done for good. It must wait instead."""
    args = {"side": "Buy", "entry": D("100.0"), "current_sl": D("99.2"), "atr": D("0.5"), "inst": TENTH,
            "params": EXCHANGE, "breakeven_done": False}
    assert breakeven_price(1, D("100.0"), D("0.5"), EXCHANGE).quantize(D("0.01")) == D("100.16")
    assert next_stop(best_price=D("100.5"), last_price=D("100.2"), **args) is None  # waits
    assert next_stop(best_price=D("100.5"), last_price=D("100.3"), **args) == StopUpdate(D("100.2"), "breakeven")
    short = {**args, "side": "Sell", "current_sl": D("100.8")}  # mirrored: level 99.84 -> 99.8 at the price
    assert next_stop(best_price=D("99.5"), last_price=D("99.8"), **short) is None
    assert next_stop(best_price=D("99.5"), last_price=D("99.7"), **short) == StopUpdate(D("99.8"), "breakeven")


@HYPO
@given(
    tick=st.sampled_from(TICKS),
    side=st.sampled_from(["Buy", "Sell"]),
    mode=st.sampled_from(["exchange", "bot"]),
    atr_ticks=st.integers(1, 400),
    fee=st.sampled_from([D("0"), D("0.0002"), D("0.00055"), D("0.001")]),
    offset=st.sampled_from([D("0"), D("0.1"), D("0.5")]),
    moves=st.lists(st.integers(-30, 30), min_size=1, max_size=60),  # price moves in tenths of an ATR
)
def test_once_breakeven_is_applied_the_stop_covers_fees_and_never_loosens(
    tick: D, side: str, mode: str, atr_ticks: int, fee: D, offset: D, moves: list[int]
) -> None:
    inst = Instrument("XUSDT", tick, D("0.001"), D("0.001"), D("1e6"), D("1e6"), D("5"), D("100"))
    params = RiskParams(trailing_mode=mode, taker_fee_rate=fee, breakeven_offset_atr=offset)  # type: ignore[arg-type]
    atr = tick * atr_ticks
    entry = atr * 1000
    s = 1 if side == "Buy" else -1
    level = breakeven_price(s, entry, atr, params)
    sl = entry - s * params.sl_atr * atr
    best: D | None = None
    done = False
    price = entry
    for move in moves:
        price = max(tick, (price + atr * move / 10) // tick * tick)
        if s * (price - sl) <= 0:
            break  # stopped out
        best = update_best(side, best, price)  # type: ignore[arg-type]
        update = next_stop(side=side, entry=entry, current_sl=sl, best_price=best, last_price=price,  # type: ignore[arg-type]
                           atr=atr, inst=inst, params=params, breakeven_done=done)
        if update is not None:
            assert s * (update.new_sl - sl) >= tick  # never loosens
            sl = update.new_sl
            done = done or update.reason == "breakeven"
        if done:
            assert s * (sl - level) >= 0  # never below (long) / above (short) the fee-covering level


def test_trailing_activation_at_or_below_zero_is_refused() -> None:
    """The issue's example: Sell, entry 1.0, ATR 3.289 gave activePrice −4.0 (position/trading-stop.mdx:
    activePrice is a price; 0 means "activate at once")."""
    inst = Instrument("XUSDT", D("0.1"), D("1"), D("1"), D("1e6"), D("1e6"), D("5"), D("100"))
    with pytest.raises(ValueError, match="at or below zero"):
        exchange_trailing(side="Sell", entry=D("1.0"), atr=D("3.289"), inst=inst, params=EXCHANGE)
    # TP 1 − 0.3 × 3.3 = 0.01 rounds (toward entry) to 0.1 > 0, but the activation rounds (nearest) to 0.0
    sized = size_position(side="Sell", entry_price=D("1.0"), atr=D("3.3"), available_balance=D("1000"), inst=inst,
                          params=RiskParams(sl_atr=D("0.05"), tp_atr=D("0.3"), trail_trigger_atr=D("0.3")))
    assert sized.refused is not None and "activation price" in sized.refused and "at or below zero" in sized.refused


def test_trailing_beyond_take_profit_is_refused_at_config_time() -> None:
    with pytest.raises(ValidationError, match="trail_trigger_atr") as exc:
        RiskParams(tp_atr=D("1"), trail_trigger_atr=D("1.5"))
    assert "tp_atr" in str(exc.value)
    RiskParams(tp_atr=D("1"), trail_trigger_atr=D("1.5"), trailing_mode="bot")  # the bot trails itself


@HYPO
@given(
    side=st.sampled_from([1, -1]),
    config_fee=st.sampled_from([D("0"), D("0.0001"), D("0.00055"), D("0.002")]),
    sized_fee=st.sampled_from([D("0"), D("0.0002"), D("0.00055"), D("0.001"), D("0.0075")]),
    entry=st.decimals(D("0.01"), D("200000"), places=2),
    atr=st.decimals(D("0.01"), D("5000"), places=2),
)
def test_breakeven_covers_the_fee_rate_the_trade_was_sized_with(side: int, config_fee: D, sized_fee: D, entry: D,
                                                                atr: D) -> None:
    """Issue 19: sizing uses the exchange's taker rate; break-even must cover that rate, not the config's. A stop
    filled at the level pays ``sized_fee`` on both legs and still nets >= 0 whatever the config says."""
    params = RiskParams(taker_fee_rate=config_fee, breakeven_offset_atr=D("0"))
    level = breakeven_price(side, entry, atr, params, fee_rate=sized_fee)
    net = side * (level - entry) - sized_fee * (entry + level)  # per unit of qty
    assert net >= -D("1e-20") * entry  # zero up to Decimal rounding
    assert breakeven_price(side, entry, atr, params) == breakeven_price(side, entry, atr, params,
                                                                        fee_rate=config_fee)  # None: the config's
