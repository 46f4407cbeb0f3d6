"""Every report states its settings (interval, risk, fees, threshold, changed parameters, funding), lists every
protection pause and explains loss streaks; the PNG has buy-and-hold and shaded pauses."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import numpy as np
from matplotlib.image import imread

from tests.backtest.test_report import D0, result
from tradebot.backtest import plot_equity, render_summary, to_dict
from tradebot.backtest.models import Pause
from tradebot.backtest.plot import buy_and_hold
from tradebot.backtest.report import changed_settings
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams

STREAK = "4 losing trades in a row (limit 4); resume manually to reset"


def test_settings_line_and_changed_parameters() -> None:
    r = result()
    r.risk = RiskParams(risk_pct=Decimal("2.5"), sl_atr=Decimal(3), taker_fee_rate=Decimal("0.0006"))
    r.strategy = StrategyParams.model_validate({"threshold": 4.0, "ema": {"fast": 5}, "rsi": {"enabled": False}})
    text = render_summary(r)
    assert ("Settings: 1440m candles, risk 2.5% of balance per trade after fees (taker 0.06% per side and a "
            "0.02% stop slippage allowance counted), threshold 4.0") in text
    changed = changed_settings(r.risk, r.strategy)
    assert "risk.risk_pct=2.5 (default 1.0)" in changed and "risk.sl_atr=3 (default 2.0)" in changed
    assert "risk.taker_fee_rate=0.0006 (default 0.00055)" in changed
    assert "strategy.threshold=4.0 (default 6.0)" in changed and "strategy.ema.fast=5 (default 9)" in changed
    assert "indicators off: rsi" in changed and len(changed) == 6
    assert "Changed from defaults: risk.risk_pct=2.5" in text
    assert to_dict(r)["settings"]["changed"] == changed
    assert "Changed from defaults: none" in render_summary(result())


def test_every_pause_is_listed_with_the_loss_streak_rule() -> None:
    r = result()
    r.pauses = [Pause(D0, D0 + timedelta(hours=1), ("BTCUSDT is cooling down after a loss until …",), 2),
                Pause(D0 + timedelta(days=1), D0 + timedelta(days=8), (STREAK,), 7),
                Pause(D0 + timedelta(days=9), None, ("daily loss limit hit: …",), 1)]
    text = render_summary(r)
    assert "Protections paused entries 3 time(s), 10 signal(s) skipped:" in text
    assert "2025-01-01 00:00 → 2025-01-01 01:00: BTCUSDT is cooling down" in text
    assert f"2025-01-02 00:00 → 2025-01-09 00:00: {STREAK} (7 skipped)" in text
    assert "2025-01-10 00:00 → end of data: daily loss limit hit" in text
    assert "live, the pause lasts until you /resume" in text and "leaves the 7-day window" in text
    r.pauses = r.pauses[:1]
    assert "/resume" not in render_summary(r)  # no streak pause: no streak explanation


def test_png_has_buy_and_hold_and_shaded_pauses() -> None:
    r = result()
    r.close = np.array([100.0, 110.0, 90.0, 120.0])
    assert buy_and_hold(r).tolist() == [10000.0, 11000.0, 9000.0, 12000.0]
    plain = imread(io.BytesIO(plot_equity(r)))
    r.pauses = [Pause(D0 + timedelta(hours=12), D0 + timedelta(days=2), (STREAK,), 3)]
    shaded = imread(io.BytesIO(plot_equity(r)))
    grey = (np.abs(shaded[..., 0] - shaded[..., 1]) < 0.02) & (shaded[..., 0] < 0.95) & (shaded[..., 0] > 0.7)
    was = (np.abs(plain[..., 0] - plain[..., 1]) < 0.02) & (plain[..., 0] < 0.95) & (plain[..., 0] > 0.7)
    assert grey.sum() > was.sum() + 5_000  # a shaded band appeared
    orange = (plain[..., 0] > 0.9) & (plain[..., 1] > 0.4) & (plain[..., 1] < 0.65) & (plain[..., 2] < 0.3)
    assert orange.sum() > 200  # the buy-and-hold line (tab:orange)
