"""Property tests: money conservation, TP/SL fire at most once, trailing stop never loosens."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proving.sim import BookParams, SimRejection, Simulator
from proving.sim.exchange import OrderRequest

D = Decimal
TOL = D("1e-12")

prices = st.lists(st.integers(55_000, 65_000), min_size=1, max_size=25)
actions = st.lists(st.tuples(st.sampled_from(["Buy", "Sell"]), st.integers(1, 30), st.booleans(),
                             st.sampled_from(["Market", "Limit"]), st.integers(-500, 500)), max_size=12)


def _sim(book: bool) -> Simulator:
    return Simulator(price=D(60000), rate_limits=False, book=BookParams() if book else BookParams.zero())


def _conserved(sim: Simulator, initial: D) -> None:
    ex = sim.exchange
    gross = sum((e.exec_pnl for e in ex.executions), D(0))
    fees = sum((e.exec_fee for e in ex.executions), D(0))
    assert abs(ex.wallet - (initial + gross - fees)) < TOL
    carry = sum((p.open_fee for p in ex.positions.values()), D(0))
    closed = sum((c.closed_pnl for c in ex.closed), D(0))
    assert abs(ex.wallet - (initial + closed - carry)) < TOL
    upl = sum((p.upl(ex.mark[s]) for s, p in ex.positions.items()), D(0))  # UPL at the mark price
    assert abs(ex.equity() - (ex.wallet + upl)) < TOL


@settings(max_examples=50, deadline=None)
@given(acts=actions, path=prices, book=st.booleans(), sl_tp=st.booleans())
def test_wallet_conservation(acts, path, book, sl_tp):
    sim = _sim(book)
    ex = sim.exchange
    initial = ex.wallet
    it = iter(path)
    for side, q, reduce, otype, off in acts:
        last = sim.prices()["BTCUSDT"]
        kwargs = {}
        if sl_tp and not reduce:
            kwargs = ({"take_profit": last + 700, "stop_loss": last - 700} if side == "Buy"
                      else {"take_profit": last - 700, "stop_loss": last + 700})
        price = last + off if otype == "Limit" else None
        try:
            ex.place_order(OrderRequest("BTCUSDT", side, otype, D(q) / 1000, price, reduce_only=reduce,
                                        **kwargs))
        except SimRejection:
            pass
        _conserved(sim, initial)
        p = next(it, None)
        if p is not None:
            sim.set_price("BTCUSDT", D(p))
            _conserved(sim, initial)
    pos = ex.positions["BTCUSDT"]
    if pos.size:
        ex.place_order(OrderRequest("BTCUSDT", "Sell" if pos.side == "Buy" else "Buy", "Market", pos.size,
                                    reduce_only=True))
    for o in ex.open_orders():
        ex.cancel_order("BTCUSDT", o.order_id)
    _conserved(sim, initial)
    assert ex.positions["BTCUSDT"].open_fee == 0
    closed = sum((c.closed_pnl for c in ex.closed), D(0))
    assert abs(ex.wallet - (initial + closed)) < TOL  # flat: every cent is explained by closed-pnl


@settings(max_examples=50, deadline=None)
@given(path=prices, side=st.sampled_from(["Buy", "Sell"]), tp=st.integers(100, 3000), sl=st.integers(100, 3000),
       trail=st.integers(0, 2000), gap=st.booleans())
def test_stops_fire_at_most_once_and_trailing_never_loosens(path, side, tp, sl, trail, gap):
    sim = _sim(False)
    ex = sim.exchange
    long = side == "Buy"
    ex.place_order(OrderRequest("BTCUSDT", side, "Market", D("0.1"),
                                take_profit=D(60000 + tp if long else 60000 - tp),
                                stop_loss=D(60000 - sl if long else 60000 + sl)))
    if trail:
        ex.set_trading_stop("BTCUSDT", None, None, D(trail), None)
    levels = []
    pos = ex.positions["BTCUSDT"]
    for p in path:
        ex.on_price("BTCUSDT", D(p), continuous=not gap)
        if pos.size and pos.trail_level is not None:
            levels.append(pos.trail_level)
    triggered = [o for o in ex.orders.values() if o.stop_order_type and o.cum_qty]
    assert len(triggered) <= 1  # one conditional close at most; the position is then flat
    if triggered:
        assert pos.size == 0 and pos.take_profit == 0 and pos.stop_loss == 0
        o = triggered[0]
        assert o.reduce_only and o.status == "Filled" and o.side == ("Sell" if long else "Buy")
        if not gap:
            assert o.avg_price == o.trigger_price  # continuous path: fills at the trigger level
    assert pos.stop_loss in (0, D(60000 - sl if long else 60000 + sl))  # trailing never edits stopLoss
    assert levels == sorted(levels, reverse=not long)


def test_trailing_with_activation_price_and_sl_first_crossed():
    sim = _sim(False)
    ex = sim.exchange
    ex.place_order(OrderRequest("BTCUSDT", "Buy", "Market", D("0.1"), stop_loss=D(59000)))
    ex.set_trading_stop("BTCUSDT", None, None, D(500), D(61000))
    pos = ex.positions["BTCUSDT"]
    sim.set_price("BTCUSDT", "60800")
    assert pos.trail_level is None  # not yet activated
    sim.set_price("BTCUSDT", "61200")
    assert pos.trail_level == D(60700)
    sim.set_price("BTCUSDT", "61600")
    assert pos.trail_level == D(61100) and pos.stop_loss == D(59000)
    sim.set_price("BTCUSDT", "58000")  # crosses trailing (61100) before SL (59000)
    closes = [o for o in ex.orders.values() if o.stop_order_type and o.cum_qty]
    assert [(o.stop_order_type, o.avg_price) for o in closes] == [("TrailingStop", D(61100))]
    assert ex.closed[-1].avg_exit_price == D(61100)


def test_gap_fills_at_gapped_price():
    rows = [(1_700_000_100_000, 100, 101, 99, 100.5, 1), (1_700_000_400_000, 95, 96, 94, 95.5, 1),
            (1_700_000_700_000, 95.5, 96, 95, 95.8, 1)]
    sim = Simulator(candles={"SOLUSDT": rows}, book=BookParams.zero(), rate_limits=False)
    ex = sim.exchange
    ex.place_order(OrderRequest("SOLUSDT", "Buy", "Market", D(1), stop_loss=D(98)))
    sim.step()  # path 100 -> 99 -> 101 -> 100.5, then gap to 95 (crosses SL 98)
    assert ex.closed[-1].avg_exit_price == D(95)
    assert [e.stop_order_type for e in ex.executions] == ["", "StopLoss"]


@pytest.mark.parametrize("rate", [D("0.0001")])
def test_funding_rows_every_8h_and_conserved(rate):
    sim = Simulator(price=D(60000), funding_rate=rate, book=BookParams.zero(), start_ms=8 * 3_600_000 * 10)
    ex = sim.exchange
    ex.place_order(OrderRequest("BTCUSDT", "Buy", "Market", D("0.1")))
    sim.step(96)
    funding = [e for e in ex.executions if e.exec_type == "Funding"]
    assert len(funding) == 1 and funding[0].exec_fee > 0
    fees = sum((e.exec_fee for e in ex.executions), D(0))
    assert ex.wallet == D(10000) - fees
