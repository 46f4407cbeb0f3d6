"""Tests for exchange trailing specs, break-even and bot trailing stop updates."""

from __future__ import annotations

from decimal import Decimal
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_instruments import BTC, TICKS
from tradebot.instruments import Instrument, is_multiple
from tradebot.risk import RiskParams
from tradebot.stops import StopUpdate, TrailingSpec, exchange_trailing, next_stop, update_best

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
