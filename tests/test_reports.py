"""Period reports (tradebot/chat/reports.py): every trade in the periods shown is counted once, in the UTC period of its
exit; the cumulative column ends at the total; weeks start on Monday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from storage.models import TradeRecord
from tradebot.chat.reports import equity_points, groups, period_start, periods

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday


def trade(exit_time: datetime, pnl: Decimal, origin: str = "signal", symbol: str = "BTCUSDT") -> TradeRecord:
    return TradeRecord(symbol=symbol, side="Buy", qty=Decimal(1), entry_price=Decimal(100), entry_time=exit_time,
                       exit_time=exit_time, pnl=pnl, status="closed", entry_fee=Decimal("0.06"),
                       exit_fee=Decimal("0.05"), origin=origin)


trades_st = st.lists(st.tuples(st.integers(0, 200 * 24 - 1), st.decimals(-500, 500, places=2),
                               st.sampled_from(["signal", "manual"])), max_size=30)


@given(trades_st, st.sampled_from(["daily", "weekly", "monthly"]), st.integers(1, 12))
def test_each_trade_in_the_periods_shown_is_counted_once(raw, unit, n) -> None:
    trades = [trade(NOW - timedelta(hours=h), pnl, origin) for h, pnl, origin in raw]
    rows = periods(trades, unit, n, NOW)
    assert len(rows) == n and len({r.label for r in rows}) == n
    oldest = period_start(unit, NOW.date())
    for _ in range(n - 1):
        oldest = period_start(unit, oldest - timedelta(days=1))
    inside = [t for t in trades if t.exit_time.date() >= oldest]
    assert sum(r.trades for r in rows) == len(inside)
    assert sum((r.net for r in rows), Decimal(0)) == sum((t.pnl for t in inside), Decimal(0))
    assert rows[-1].cumulative == sum((r.net for r in rows), Decimal(0))
    assert sum((r.fees for r in rows), Decimal(0)) == Decimal("0.11") * len(inside)
    by_origin = groups(trades, "origin")
    assert sum(b.trades for b in by_origin) == len(trades)
    curve = equity_points(trades)
    assert (curve[-1][1] if curve else Decimal(0)) == sum((t.pnl for t in trades), Decimal(0))


def test_weeks_start_on_monday_and_label_in_utc() -> None:
    rows = periods([trade(NOW, Decimal(5)), trade(NOW - timedelta(days=2, hours=16), Decimal(-2))], "weekly", 2, NOW)
    assert [r.label for r in rows] == ["2026-W09", "2026-W10"]  # Sunday 1 March 23:00 belongs to the week before
    assert [(r.trades, r.net) for r in rows] == [(1, Decimal(-2)), (1, Decimal(5))]
    assert [r.cumulative for r in rows] == [Decimal(-2), Decimal(3)]
    months = periods([trade(NOW, Decimal(1))], "monthly", 3, NOW)
    assert [r.label for r in months] == ["2026-01", "2026-02", "2026-03"]
