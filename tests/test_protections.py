"""Tests for the daily loss limit, per-symbol cooldown and consecutive-loss protections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.sizing.risk import RiskParams
from tradebot.tick.protections import (
    ClosedTradeView,
    ProtectionState,
    consecutive_losses,
    cooldown_until,
    daily_loss_tripped,
    losses_tripped,
    protection_state,
)

HYPO = settings(deadline=None, max_examples=200)
P = RiskParams()
NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
MIDNIGHT = datetime(2025, 3, 11, tzinfo=UTC)


def t(minutes_ago: float, pnl: str, symbol: str = "BTCUSDT") -> ClosedTradeView:
    return ClosedTradeView(symbol, NOW - timedelta(minutes=minutes_ago), D(pnl))


# --- daily loss --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trades", "tripped", "loss"),
    [
        ([], False, "0"),
        ([t(60, "-30"), t(30, "-20")], True, "50"),  # exactly 5% of 1000
        ([t(60, "-30"), t(30, "-19.99")], False, "49.99"),
        ([t(60, "-80"), t(30, "40")], False, "40"),  # wins offset losses (net realised)
        ([t(16 * 60, "-500"), t(30, "-10")], False, "10"),  # yesterday (UTC) does not count
        ([t(14 * 60 + 59, "-60")], True, "60"),  # 00:01 UTC today counts
        ([t(-5, "-60")], False, "0"),  # closed in the future: ignored
    ],
)
def test_daily_loss_table(trades: list[ClosedTradeView], tripped: bool, loss: str) -> None:
    check = daily_loss_tripped(trades, NOW, D("1000"), P)
    assert check.tripped is tripped and bool(check) is tripped
    assert check.loss_today == D(loss)
    assert check.limit == D("50")
    assert check.resume_at == (MIDNIGHT if tripped else None)


def test_no_start_of_day_equity_yet_never_trips() -> None:
    """Issue 19: before the day's first tick records its starting equity the limit has no base; it was read as 0,
    so any loss "tripped" it (on Approve, and in /status as "limit 0 USDT")."""
    check = daily_loss_tripped([t(60, "-0.01")], NOW, None, P)
    assert not check.tripped and check.limit is None and check.loss_today == D("0.01")
    state = protection_state([t(60, "-0.01")], symbol="ETHUSDT", now=NOW, balance_start_of_day=None, params=P)
    assert state.entries_allowed and state.reasons == ()


def test_daily_loss_uses_utc_day_for_other_timezones() -> None:
    now = datetime(2025, 3, 11, 1, 0, tzinfo=timezone(timedelta(hours=3)))  # = 2025-03-10 22:00 UTC
    check = daily_loss_tripped([t(60, "-100")], now, D("1000"), P)
    assert check.tripped and check.resume_at == MIDNIGHT


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        daily_loss_tripped([], datetime(2025, 3, 10), D("1000"), P)
    with pytest.raises(ValueError, match="closed_at"):
        cooldown_until([ClosedTradeView("BTCUSDT", datetime(2025, 3, 10), D("-1"))], "BTCUSDT", NOW, P)


# --- cooldown ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trades", "symbol", "minutes", "expected_minutes_from_now"),
    [
        ([t(10, "-5")], "BTCUSDT", 30, 20),
        ([t(40, "-5")], "BTCUSDT", 30, None),  # over
        ([t(30, "-5")], "BTCUSDT", 30, None),  # ends exactly now
        ([t(10, "5")], "BTCUSDT", 30, None),  # a win does not cool down
        ([t(10, "-5", "ETHUSDT")], "BTCUSDT", 30, None),  # other symbol
        ([t(50, "-5"), t(10, "-1"), t(5, "3")], "BTCUSDT", 30, 20),  # from the latest loss
        ([t(10, "-5")], "BTCUSDT", 0, None),  # off
    ],
)
def test_cooldown_table(
    trades: list[ClosedTradeView], symbol: str, minutes: int, expected_minutes_from_now: int | None
) -> None:
    until = cooldown_until(trades, symbol, NOW, RiskParams(cooldown_minutes=minutes))
    assert until == (
        None if expected_minutes_from_now is None else NOW + timedelta(minutes=expected_minutes_from_now)
    )


# --- consecutive losses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pnls", "count"),
    [
        ([], 0),
        (["-1"], 1),
        (["-1", "-1", "2", "-1", "-1", "-1"], 3),  # oldest first
        (["-1", "-1", "0"], 0),  # a flat close ends the streak
        (["-1", "-1", "-1", "-1"], 4),
    ],
)
def test_consecutive_losses(pnls: list[str], count: int) -> None:
    trades = [t(100 - i, p) for i, p in enumerate(pnls)]
    assert consecutive_losses(trades) == count
    assert consecutive_losses(list(reversed(trades))) == count  # input order does not matter
    assert losses_tripped(trades, P) is (count >= 4)
    assert losses_tripped(trades, RiskParams(max_consecutive_losses=0)) is False


def test_consecutive_losses_reset_by_since() -> None:
    trades = [t(50, "-1"), t(40, "-1"), t(30, "-1"), t(20, "-1"), t(5, "-1")]
    assert consecutive_losses(trades) == 5
    assert consecutive_losses(trades, since=NOW - timedelta(minutes=10)) == 1


# --- combined state ----------------------------------------------------------------------------------------


def test_protection_state_all_clear() -> None:
    state = protection_state(
        [t(10, "5")], symbol="BTCUSDT", now=NOW, balance_start_of_day=D("1000"), params=P
    )
    assert state == ProtectionState(entries_allowed=True, reasons=(), resume_at=None)


def test_protection_state_timed_pauses() -> None:
    state = protection_state(
        [t(10, "-60")], symbol="BTCUSDT", now=NOW, balance_start_of_day=D("1000"), params=P
    )
    assert not state.entries_allowed
    assert state.reasons == (
        "daily loss limit hit: lost 60 USDT today (limit 50 USDT = 5% of the day's starting balance); "
        "entries resume at 2025-03-11 00:00 UTC",
        "BTCUSDT is cooling down after a loss until 2025-03-10 15:20 UTC",
    )
    assert state.resume_at == MIDNIGHT  # the later of the two


def test_protection_state_streak_and_open_positions() -> None:
    trades = [t(200 - i, "-1") for i in range(4)]
    state = protection_state(
        trades, symbol="ETHUSDT", now=NOW, balance_start_of_day=D("1000"), params=P, open_positions=3
    )
    assert state.reasons == (
        "4 losing trades in a row (limit 4); resume manually to reset",
        "3 positions open (limit 3)",
    )
    assert not state.entries_allowed and state.resume_at is None
    reset = protection_state(
        trades,
        symbol="ETHUSDT",
        now=NOW,
        balance_start_of_day=D("1000"),
        params=P,
        losses_reset_at=NOW - timedelta(minutes=1),
    )
    assert reset.entries_allowed


# --- invariants --------------------------------------------------------------------------------------------

trade_lists = st.lists(
    st.builds(
        ClosedTradeView,
        symbol=st.sampled_from(["BTCUSDT", "ETHUSDT"]),
        closed_at=st.datetimes(
            min_value=datetime(2025, 3, 8), max_value=datetime(2025, 3, 10, 15), timezones=st.just(UTC)
        ),
        pnl=st.decimals(min_value=D("-100"), max_value=D("100"), places=2),
    ),
    max_size=30,
)


@HYPO
@given(
    trades=trade_lists,
    balance=st.decimals(min_value=D("1"), max_value=D("100000"), places=2),
    limit_pct=st.decimals(min_value=D("0.5"), max_value=D("20"), places=1),
)
def test_daily_loss_matches_todays_net_pnl(trades: list[ClosedTradeView], balance: D, limit_pct: D) -> None:
    params = RiskParams(daily_loss_limit_pct=limit_pct)
    check = daily_loss_tripped(trades, NOW, balance, params)
    net = sum((x.pnl for x in trades if x.closed_at >= datetime(2025, 3, 10, tzinfo=UTC)), D(0))
    assert check.tripped == (net < 0 and -net >= balance * limit_pct / 100)
    assert (check.resume_at is not None) == check.tripped


@HYPO
@given(trades=trade_lists, data=st.data())
def test_streak_is_order_independent_and_bounded(trades: list[ClosedTradeView], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(trades))
    n = consecutive_losses(trades)
    assert n == consecutive_losses(shuffled)
    assert 0 <= n <= len(trades)
    newest_first = sorted(trades, key=lambda x: (x.closed_at, x.pnl < 0), reverse=True)
    assert all(x.pnl < 0 for x in newest_first[:n])


@HYPO
@given(trades=trade_lists)
def test_entries_allowed_iff_no_reasons(trades: list[ClosedTradeView]) -> None:
    state = protection_state(trades, symbol="BTCUSDT", now=NOW, balance_start_of_day=D("1000"), params=P)
    assert state.entries_allowed == (not state.reasons)
    if state.resume_at is not None:
        assert state.resume_at > NOW
