"""Objective scores on plain equity curves: net PnL per 30 days, annualised Sharpe, Calmar."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradebot.optimize.evaluate import max_drawdown_pct, score_of

STEP = 300_000  # 5m bars
DAYS = 10.0


def test_net_pnl_is_percent_per_30_days() -> None:
    eq = np.linspace(10_000, 10_500, 2881)
    assert score_of("net_pnl", eq, STEP, DAYS, 10_000) == pytest.approx(15.0)  # +5% in 10 days


def test_sharpe_sign_and_flat_curve() -> None:
    rng = np.random.default_rng(1)
    up = 10_000 * np.cumprod(1 + 0.0002 + 0.001 * rng.standard_normal(2880))
    assert score_of("sharpe", up, STEP, DAYS, 10_000) > 0
    assert score_of("sharpe", 20_000 - up, STEP, DAYS, 10_000) < 0
    assert score_of("sharpe", np.full(100, 10_000.0), STEP, DAYS, 10_000) == 0.0
    r = np.diff(up) / up[:-1]
    expected = r.mean() / r.std() * math.sqrt(365 * 288)
    assert score_of("sharpe", up, STEP, DAYS, 10_000) == pytest.approx(expected)


def test_calmar_divides_annual_return_by_drawdown_with_a_floor() -> None:
    eq = np.array([10_000, 11_000, 9_900, 10_500.0])
    assert max_drawdown_pct(eq) == pytest.approx(10.0)
    assert score_of("calmar", eq, STEP, DAYS, 10_000) == pytest.approx(5 * 36.5 / 10)
    smooth = np.linspace(10_000, 10_100, 50)  # never drew down: the 0.1% floor, not infinity
    assert score_of("calmar", smooth, STEP, DAYS, 10_000) == pytest.approx(1 * 36.5 / 0.1)
