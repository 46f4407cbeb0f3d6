"""Report logic on hand-made trials: re-fitted walk-forward score and the overfit warnings."""

from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution

from tradebot.optimize.report import Row, divergence, refit_score


def _trial(is_w: list[float], oos_w: list[float]) -> optuna.trial.FrozenTrial:
    return optuna.create_trial(value=sum(oos_w) / len(oos_w), params={"x": 1.0},
                               distributions={"x": FloatDistribution(0, 2)},
                               user_attrs={"is_windows": is_w, "oos_windows": oos_w})


def test_refit_picks_the_best_train_trial_per_window_and_scores_its_test() -> None:
    a = _trial([5.0, 0.0], [-1.0, 3.0])  # great in window 1's train part, bad on its test part
    b = _trial([1.0, 2.0], [2.0, -4.0])
    assert refit_score([a, b], 2) == (-1.0 + -4.0) / 2
    assert refit_score([], 2) is None


def test_divergence_warns_on_overfit_and_on_a_failed_hold_out() -> None:
    ok = Row(1, oos=0.9, is_=1.0, attrs={}, params={}, holdout={"score": 0.8})
    assert divergence(ok, 0.5) == []
    overfit = Row(2, oos=0.3, is_=1.0, attrs={}, params={})
    assert "likely overfit" in divergence(overfit, 0.5)[0]
    hold = Row(3, oos=1.0, is_=1.0, attrs={}, params={}, holdout={"score": -0.2})
    assert "did not survive untouched data" in divergence(hold, 0.5)[0]
