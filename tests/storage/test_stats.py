"""PnL summary on hand-computed trades: net = closedPnl (fees and funding inside it), per symbol, period bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from storage import repo, session_scope
from storage.stats import period_bounds, pnl_summary

D = Decimal
T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)

# (symbol, closedPnl, entry_fee, exit_fee, hours after T0 of the exit, funding paid while holding)
TRADES = [
    ("BTCUSDT", "100", "1", "1", 1, "0"),
    ("BTCUSDT", "-50", "0.5", "0.5", 2, "0.2"),
    ("ETHUSDT", "-30", "0.3", "0.3", 3, "0"),
    ("ETHUSDT", "80", "0.4", "0.4", 4, "-0.05"),
    ("BTCUSDT", "0", "0.1", "0.1", 5, "0"),
]
FUNDING = [("f0", "BTCUSDT", "0.1", -24), ("f1", "BTCUSDT", "0.2", 1.5), ("f2", "ETHUSDT", "-0.05", 3.5)]


@pytest.fixture
def journal(engine):
    with session_scope(engine) as s:
        for i, (sym, pnl, fee_in, fee_out, h, fund) in enumerate(TRADES):
            t = repo.open_trade(session=s, symbol=sym, side="Buy", qty=D("1"), entry_price=D("100"),
                                entry_time=T0 + timedelta(hours=h - 0.5), entry_fee=D(fee_in))
            repo.close_trade(session=s, trade_id=t.id, exit_price=D("101"), exit_time=T0 + timedelta(hours=h),
                             pnl=D(pnl), reason="manual", exit_order_id=f"x{i}", exit_fee=D(fee_out),
                             funding_fee=D(fund))
        repo.open_trade(session=s, symbol="SOLUSDT", side="Sell", qty=D("1"), entry_price=D("1"),
                        entry_time=T0 + timedelta(hours=2))  # open: never counted
        for exec_id, sym, fee, h in FUNDING:
            repo.record_funding(session=s, exec_id=exec_id, symbol=sym, fee=D(fee), time=T0 + timedelta(hours=h))
    return engine


def test_summary_hand_computed(journal):
    with session_scope(journal) as s:
        r = pnl_summary(session=s, since=T0, until=T0 + timedelta(days=1), starting_balance=D("1000"))
    assert (r.trades, r.wins, r.losses) == (5, 2, 2)
    # Bybit's closedPnl already deducts both fees and the funding paid while holding (issue 11 §1; Bybit help
    # centre "Why did my Closed P&L record a loss ...", position/close-pnl.mdx): net is their sum, never less.
    assert r.net_pnl == D("100")
    assert r.trading_fees == D("4.6")
    assert r.funding_fees == D("0.15")  # 0.2 paid - 0.05 received by the closed trades
    assert r.gross_pnl == D("104.75")  # price PnL = net + fees + funding
    assert not hasattr(r, "net_after_funding")  # the old double count
    assert r.funding_settled == D("0.15")  # settlements in the window; the f0 row is before it
    assert r.win_rate == pytest.approx(0.4)
    assert r.profit_factor == D("2.25")  # 180 / 80
    assert r.max_drawdown == D("80")  # cumulative 100 -> 20
    assert r.max_drawdown_pct == D("80") / D("1100") * 100
    assert (r.best, r.worst) == (D("100"), D("-50"))
    assert (r.avg_win, r.avg_loss) == (D("90"), D("-40"))
    assert set(r.by_symbol) == {"BTCUSDT", "ETHUSDT"}
    btc, eth = r.by_symbol["BTCUSDT"], r.by_symbol["ETHUSDT"]
    assert (btc.trades, btc.wins, btc.losses, btc.net_pnl, btc.trading_fees, btc.funding_fees) == (
        3, 1, 1, D("50"), D("3.2"), D("0.2"))
    assert (eth.trades, eth.wins, eth.losses, eth.net_pnl, eth.trading_fees, eth.funding_fees) == (
        2, 1, 1, D("50"), D("1.4"), D("-0.05"))
    assert btc.win_rate == pytest.approx(1 / 3)
    assert all(isinstance(x, Decimal) for x in (r.net_pnl, r.gross_pnl, r.max_drawdown, r.profit_factor))


def test_summary_symbol_and_window(journal):
    with session_scope(journal) as s:
        eth = pnl_summary(session=s, since=None, until=None, symbol="ETHUSDT")
        late = pnl_summary(session=s, since=T0 + timedelta(hours=3), until=T0 + timedelta(hours=5))
        everything = pnl_summary(session=s, since=None, until=None)
    assert (eth.trades, eth.net_pnl, eth.funding_fees, eth.max_drawdown) == (2, D("50"), D("-0.05"), D("30"))
    assert eth.max_drawdown_pct is None and set(eth.by_symbol) == {"ETHUSDT"}
    assert (late.trades, late.net_pnl, late.profit_factor) == (2, D("50"), D("80") / D("30"))
    assert late.funding_fees == D("-0.05")
    assert everything.funding_fees == D("0.15") and everything.trades == 5
    assert everything.funding_settled == D("0.25")


def test_summary_empty_and_no_losses(engine):
    with session_scope(engine) as s:
        empty = pnl_summary(session=s, since=None, until=None, starting_balance=D("500"))
        assert (empty.trades, empty.net_pnl, empty.max_drawdown, empty.max_drawdown_pct) == (0, 0, 0, 0)
        assert empty.win_rate is None and empty.profit_factor is None and empty.best is None
        assert empty.avg_win is None and empty.avg_loss is None and empty.by_symbol == {}
        t = repo.open_trade(session=s, symbol="BTCUSDT", side="Sell", qty=1, entry_price=1, entry_time=T0)
        repo.close_trade(session=s, trade_id=t.id, exit_price=D("1"), exit_time=T0, pnl=D("5"),
                         reason="take_profit", exit_order_id="w")
        won = pnl_summary(session=s, since=None, until=None)
    assert won.profit_factor is None and won.win_rate == 1.0 and won.max_drawdown == 0


def test_drawdown_counts_from_zero_when_first_trade_loses(engine):
    with session_scope(engine) as s:
        for i, pnl in enumerate(["-10", "4", "-7", "20", "-3"]):
            t = repo.open_trade(session=s, symbol="BTCUSDT", side="Buy", qty=1, entry_price=1, entry_time=T0)
            repo.close_trade(session=s, trade_id=t.id, exit_price=D("1"), exit_time=T0 + timedelta(hours=i),
                             pnl=D(pnl), reason="stop_loss", exit_order_id=f"d{i}")
        r = pnl_summary(session=s, since=None, until=None, starting_balance=D("100"))
    # cumulative: -10, -6, -13, 7, 4 -> worst fall from the 0 start is 13
    assert r.max_drawdown == D("13")
    assert r.max_drawdown_pct == D("13")  # equity 100 -> 87


def test_period_bounds():
    now = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)
    assert period_bounds("today", now) == (datetime(2026, 1, 5, tzinfo=UTC), now)
    assert period_bounds("7d", now) == (now - timedelta(days=7), now)
    assert period_bounds("30D", now) == (now - timedelta(days=30), now)
    assert period_bounds("all", now) == (None, now)
    # a local clock just after midnight in UTC+3 is still the previous UTC day
    local = datetime(2026, 1, 6, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    since, until = period_bounds("today", local)
    assert since == datetime(2026, 1, 5, tzinfo=UTC) and since.tzinfo == UTC and until == local
    with pytest.raises(ValueError):
        period_bounds("yesterday", now)
    with pytest.raises(ValueError):
        period_bounds("today", datetime(2026, 1, 5))


def test_today_summary_uses_utc_midnight(journal):
    with session_scope(journal) as s:
        since, until = period_bounds("today", T0 + timedelta(hours=3, minutes=30))
        r = pnl_summary(session=s, since=since, until=until)
    assert (r.trades, r.net_pnl, r.funding_fees, r.funding_settled) == (3, D("20"), D("0.2"), D("0.2"))
