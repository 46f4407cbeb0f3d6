"""The /close question prices a market close by walking the book's other side (issue 21: at the mark it said
−11.63 where the close booked −44.02)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from tradebot.chat.manual import market_exit_price

levels = st.lists(st.tuples(st.integers(1, 1000), st.integers(1, 500)), min_size=1, max_size=10)


def test_a_close_bigger_than_the_best_level_pays_the_next_levels() -> None:
    bids = ((D("100.0"), D("1")), (D("99.5"), D("2")), (D("99.0"), D("5")))
    assert market_exit_price(bids, D("1")) == D("100.0")
    assert market_exit_price(bids, D("2")) == (D("100.0") + D("99.5")) / 2
    assert market_exit_price(bids, D("9")) is None  # more than the listed depth: the caller uses the mark


@given(raw=levels, frac=st.integers(1, 100))
def test_the_walked_price_lies_between_the_best_and_the_worst_level_taken(raw: list[tuple[int, int]],
                                                                          frac: int) -> None:
    bids = tuple(sorted(((D(p) / 10, D(s) / 1000) for p, s in raw), reverse=True))
    depth = sum((s for _, s in bids), D(0))
    qty = depth * frac / 100
    price = market_exit_price(bids, qty)
    assert price is not None
    assert bids[-1][0] <= price <= bids[0][0]
    if frac == 100:  # the whole book: its own size-weighted average (to Decimal's 28 digits)
        assert abs(price * qty - sum((p * s for p, s in bids), D(0))) <= D("1e-20")
