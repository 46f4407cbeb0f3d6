"""Hand-made candles where the trades are known: TP, SL, gaps, trailing, break-even, path order, protections."""

from __future__ import annotations

from decimal import Decimal

from tests.backtest.helpers import STEP, T0, quiet_risk, run
from tradebot.market import ms_to_datetime

FLAT = (10000.0, 10010.0, 9990.0, 10000.0)  # signal bar; the entry fills at the next bar's open (10000)
# 1% of 10,000 = 100 USDT lost at the stop AFTER fees (risk.size_position): 150 stop + 0.02% slippage allowance
# (1.97) + taker 0.00055 × (10000 + 9848.03) = 162.8864165 per coin -> 0.61392 -> 0.613 (0.666 before fees)
QTY = Decimal("0.613")
# 10000 × (1 + 0.00055) / (1 − 0.00055) + 0.1 × ATR = 10021.0066..., rounded up to the tick (the rule's stop_walk.breakeven_level)
BREAKEVEN = Decimal("10021.10")


def at(bar: int, point: int) -> object:
    return ms_to_datetime(T0 + bar * STEP + (STEP - 1 if point == 3 else point * (STEP // 3)))


def test_take_profit_fills_at_the_level_with_fees() -> None:
    res = run([FLAT, (10000, 10050, 9950, 10040), (10040, 10320, 10030, 10310)], {0: "BUY"}, fee="0.001")
    (t,) = res.trades
    assert (t.side, t.entry_price, t.qty, t.sl, t.tp) == ("Buy", Decimal("10000"), QTY, Decimal("9850.0"),
                                                            Decimal("10300"))
    assert (t.exit_price, t.reason, t.exit_time, t.entry_time) == (Decimal("10300"), "take_profit", at(2, 2), at(1, 0))
    assert t.fees == Decimal("6.13") + Decimal("6.3139")
    assert t.pnl == Decimal("183.9") - t.fees == res.final_balance - res.initial_balance


def test_stop_loss_fills_at_the_level() -> None:
    res = run([FLAT, (10000, 10020, 9900, 9950), (9950, 9960, 9800, 9820)], {0: "BUY"})
    (t,) = res.trades
    assert (t.exit_price, t.reason, t.exit_time, t.pnl) == (Decimal("9850.0"), "stop_loss", at(2, 2), Decimal("-91.95"))


def test_gap_through_the_stop_fills_at_the_gapped_open() -> None:
    res = run([FLAT, (10000, 10020, 9900, 9950), (9700, 9750, 9650, 9720)], {0: "BUY"})
    (t,) = res.trades
    assert (t.exit_price, t.exit_time, t.exit_bar, t.pnl) == (Decimal("9700"), at(2, 0), 2, Decimal("-183.9"))


def test_exchange_trailing_activates_then_fires_at_best_minus_distance() -> None:
    rows = [FLAT, (10000, 10050, 9990, 10040), (10040, 10250, 10030, 10240), (10240, 10245, 10100, 10120)]
    (t,) = run(rows, {0: "BUY"}).trades
    assert (t.exit_price, t.reason, t.exit_time) == (Decimal("10150"), "trailing_stop", at(3, 2))
    assert t.stop_moves == 1 and t.exit_sl == BREAKEVEN  # break-even moved at bar 3's open, not hit


def test_break_even_move_then_hit() -> None:
    (t,) = run([FLAT, (10000, 10120, 9990, 10100), (10100, 10110, 10000, 10005)], {0: "BUY"}).trades
    assert (t.exit_price, t.reason, t.stop_moves, t.pnl) == (BREAKEVEN, "breakeven_stop", 1, Decimal("12.9343"))


def test_bot_trailing_moves_the_stop_at_the_tick() -> None:
    rows = [FLAT, (10000, 10200, 9990, 10190), (10190, 10195, 10090, 10095)]
    (t,) = run(rows, {0: "BUY"}, risk=quiet_risk(trailing_mode="bot")).trades
    assert (t.exit_price, t.reason, t.exit_sl, t.pnl) == (Decimal("10100.0"), "trailing_stop", Decimal("10100.0"),
                                                          Decimal("61.3"))


def test_candle_direction_decides_which_of_sl_and_tp_fires_first() -> None:
    bull = run([FLAT, (10000, 10350, 9800, 10200)], {0: "BUY"}).trades[0]  # open→low→high→close
    bear = run([FLAT, (10000, 10350, 9800, 9900)], {0: "BUY"}).trades[0]  # open→high→low→close
    assert (bull.reason, bull.exit_price, bull.exit_point) == ("stop_loss", Decimal("9850.0"), 1)
    assert (bear.reason, bear.exit_price, bear.exit_point) == ("take_profit", Decimal("10300"), 1)


def test_short_mirrors_the_long() -> None:
    (t,) = run([FLAT, (10000, 10160, 9990, 10100)], {0: "SELL"}).trades
    assert (t.side, t.sl, t.tp, t.exit_price, t.pnl) == ("Sell", Decimal("10150.0"), Decimal("9700"),
                                                         Decimal("10150.0"), Decimal("-91.95"))


def test_cooldown_after_a_loss_skips_signals() -> None:
    rows = [FLAT, (10000, 10020, 9900, 9950), (9950, 9960, 9800, 9820)] + [(9820, 9830, 9810, 9825)] * 4
    res = run(rows, {0: "BUY", 2: "BUY", 3: "BUY", 4: "BUY"}, risk=quiet_risk(cooldown_minutes=30))
    assert [t.entry_bar for t in res.trades] == [1, 5]
    (pause,) = res.pauses
    assert pause.signals_skipped == 2 and "cooling down" in pause.reasons[0]


def test_one_position_at_a_time_and_opposite_signals_do_not_close() -> None:
    rows = [FLAT, (10000, 10050, 9950, 10040), (10040, 10060, 10030, 10050), (10050, 10320, 10040, 10310)]
    (t,) = run(rows, {0: "BUY", 1: "SELL", 2: "SELL"}).trades
    assert (t.side, t.reason) == ("Buy", "take_profit")


def test_open_position_is_closed_at_the_end_of_data() -> None:
    (t,) = run([FLAT, (10000, 10050, 9950, 10040)], {0: "BUY"}).trades
    assert (t.reason, t.exit_price, t.exit_point) == ("end_of_data", Decimal("10040"), 3)


def test_equity_curve_marks_to_market() -> None:
    res = run([FLAT, (10000, 10050, 9950, 10040), (10040, 10320, 10030, 10310)], {0: "BUY"})
    assert res.equity.iloc[0] == 10000 + 40 * 0.613
    assert res.in_position.tolist() == [True, False]
