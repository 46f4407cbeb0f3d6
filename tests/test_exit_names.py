"""Exits are named by what the stop was when it filled (stop-loss, break-even stop, trailing stop), with the result."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from handlers.render.formatting import exit_name, render_event, render_trades
from storage.models import CLOSE_REASONS
from tradebot.care.closes import close_reason
from tradebot.events import PositionClosed
from tradebot.states import StopMove

BE = StopMove.history([{"reason": "breakeven", "sl": "100.5"}])
TRAIL = [*BE, *StopMove.history([{"reason": "trailing", "sl": "103"}])]


@pytest.mark.parametrize(("history", "expected"), [
    ([], "stop_loss"), (BE, "breakeven_stop"), (TRAIL, "trailing_stop")])
def test_a_stop_loss_fill_is_named_by_the_stop_it_was(history: list, expected: str) -> None:
    trade = SimpleNamespace(stop_moves=history)
    assert close_reason({"StopLoss"}, {"Trade"}, set(), trade) == expected  # type: ignore[arg-type]
    assert expected in CLOSE_REASONS  # the journal accepts it


def test_old_journal_rows_are_named_by_their_stop_history() -> None:
    assert exit_name("stop_loss", BE) == "break-even stop hit"  # written before breakeven_stop existed
    assert exit_name("stop_loss", TRAIL) == "trailing stop hit"
    assert exit_name("stop_loss", []) == "stop-loss hit"
    assert exit_name("breakeven_stop") == "break-even stop hit"
    assert exit_name("take_profit", BE) == "take-profit hit"


@pytest.mark.parametrize(("reason", "pnl", "head"), [
    ("breakeven_stop", "4.01", "💰 BTCUSDT closed — break-even stop hit: profit +4.01 USDT"),
    ("trailing_stop", "120.5", "💰 BTCUSDT closed — trailing stop hit: profit +120.50 USDT"),
    ("stop_loss", "-98.7", "🔻 BTCUSDT closed — stop-loss hit: loss -98.70 USDT"),
])
def test_close_alert_says_the_exit_and_the_result(reason: str, pnl: str, head: str) -> None:
    event = PositionClosed("BTCUSDT", "Buy", D("0.465"), D("106815.2"), D("106941.4"), D(pnl), D("54.67"), reason, 1)
    rendered = render_event(event)
    assert rendered is not None
    plain = rendered.text.replace("<b>", "").replace("</b>", "")
    assert plain.split("\n")[0] == head


def test_trades_list_names_old_break_even_rows() -> None:
    row = SimpleNamespace(exit_time=datetime(2025, 7, 2, 7, 10, tzinfo=UTC), symbol="BTCUSDT", side="Buy",
                          qty=D("0.465"), entry_price=D("106815.2"), exit_price=D("106941.4"), pnl=D("4.01"),
                          reason="stop_loss", stop_moves=BE)
    assert render_trades([row]).endswith("break-even stop hit")  # type: ignore[list-item]


def test_an_averaged_exit_price_is_shown_at_the_entrys_precision() -> None:
    """Several closed-pnl rows average to a long fraction; the alert and /trades show it at the entry's precision
    plus two places (the journal keeps it exact)."""
    from decimal import Decimal

    from handlers.render.formatting import exit_num

    assert exit_num(Decimal("51168.394293125810635538262"), Decimal("51250")) == "51,168.39"
    assert exit_num(Decimal("0.123456789"), Decimal("0.1234")) == "0.123457"
    assert exit_num(Decimal("51187"), Decimal("51250.5")) == "51,187"
