"""Maker-first entries and the limit take-profit in the backtest (issue 21): a resting limit fills only when a
later bar trades THROUGH its price by a tick within the window (a touch fills nothing: queue position is not
modelled), at its own price as maker; fees by fill type; market fallback or skip."""

from __future__ import annotations

from decimal import Decimal

from tests.backtest.helpers import quiet_risk, run
from tradebot.sizing.execution import ExecutionSettings

FLAT = (10000.0, 10010.0, 9990.0, 10000.0)  # signal bar; the limit rests at the next bar's open (10000)
MAKER = ExecutionSettings(mode="maker_first", reprice_window_s=1800)  # two 15m bars
SKIP = ExecutionSettings(mode="maker_first", reprice_window_s=900, fallback="skip")  # one bar
RISK = quiet_risk(trailing_mode="bot", maker_fee_rate=Decimal("0.0002"), breakeven_trigger_atr=Decimal(5),
                  trail_trigger_atr=Decimal(5), tp_atr=Decimal(3))


def test_a_touch_does_not_fill_a_trade_through_by_one_tick_does() -> None:
    touched = (10000, 10050, 10000, 10040)  # low == the limit: nothing
    through = (10040, 10060, 9999.9, 10020)  # one tick (0.1) below the limit: filled at 10000
    up = (10020, 10400, 10010, 10390)
    res = run([FLAT, touched, through, up], {0: "BUY"}, risk=RISK, fee="0.001", execution=MAKER)
    (t,) = res.trades
    assert (t.entry_bar, t.entry_price, t.entry_maker) == (2, Decimal("10000"), True)
    assert (t.reason, t.exit_price, t.exit_maker) == ("take_profit", t.tp, True)
    assert t.open_fee == t.qty * Decimal("10000") * Decimal("0.0002")  # maker both ways
    assert t.fees == t.open_fee + t.qty * t.tp * Decimal("0.0002")


def test_the_take_profit_limit_needs_a_tick_beyond_it() -> None:
    at_tp = (10000, 10300, 9990, 10290)  # entry bar: through the limit (9990 < 9999.9), then up to exactly TP
    res = run([FLAT, at_tp, (10290, 10295, 10200, 10210)], {0: "BUY"}, risk=RISK, execution=MAKER)
    (t,) = res.trades
    assert t.tp == Decimal("10300") and t.reason == "end_of_data"  # TP touched, never traded through
    res = run([FLAT, (10000, 10300.1, 9990, 10290), (10290, 10295, 10200, 10210)], {0: "BUY"}, risk=RISK,
              execution=MAKER)
    (t,) = res.trades
    assert (t.reason, t.exit_price, t.exit_maker) == ("take_profit", Decimal("10300"), True)


def test_not_filled_in_the_window_falls_back_to_a_market_entry_at_taker_fees() -> None:
    rows = [FLAT, (10000, 10050, 10000, 10040), (10040, 10080, 10030, 10070), (10070, 10500, 10060, 10490)]
    res = run(rows, {0: "BUY"}, risk=RISK, fee="0.001", execution=MAKER)
    (t,) = res.trades
    assert (t.entry_bar, t.entry_price, t.entry_maker) == (3, Decimal("10070"), False)  # after the 2-bar window
    assert t.open_fee == t.qty * Decimal("10070") * Decimal("0.001")
    assert res.maker_unfilled == 1


def test_skip_trades_nothing_and_says_so() -> None:
    rows = [FLAT, (10000, 10050, 10000, 10040), (10040, 10080, 9000, 10070)]
    res = run(rows, {0: "BUY"}, risk=RISK, execution=SKIP)
    assert res.trades == [] and res.maker_unfilled == 1
    assert res.refusals == {"maker entry not filled within its window (fallback skip)": 1}


def test_a_short_rests_at_the_ask_and_fills_when_the_high_trades_through() -> None:
    rows = [FLAT, (10000, 10000.1, 9950, 9960), (9960, 9970, 9600, 9610)]
    res = run(rows, {0: "SELL"}, risk=RISK, execution=MAKER)
    (t,) = res.trades
    assert (t.side, t.entry_bar, t.entry_price, t.entry_maker) == ("Sell", 1, Decimal("10000"), True)


def test_refusal_lines_keep_their_numbers_no_placeholder() -> None:
    """The report said "round-trip fees would take #% of the risk" (issue 21): every number is filled in, as the
    range it took over the refused signals."""
    from pathlib import Path

    from tradebot.backtest import run_backtest
    from tradebot.backtest.data import load_candles
    from tradebot.backtest.models import MARKET
    from tradebot.backtest.report import render_summary

    df, _ = load_candles(Path(__file__).resolve().parents[2] / "data" / "sample" / "BTCUSDT_5m.csv",
                         report=lambda _: None)
    res = run_backtest(df, quiet_risk(max_fee_share=Decimal("0.25")), execution=MARKET)
    fee_lines = [k for k in res.refusals if k.startswith("round-trip fees would take")]
    assert fee_lines and all("#" not in k for k in res.refusals)
    share = fee_lines[0].split("take ")[1].split("%")[0]  # e.g. "25.3–48.1"
    lo, _, hi = share.partition("–")
    assert 25 < float(lo) <= float(hi or lo)
    assert "#" not in render_summary(res)
