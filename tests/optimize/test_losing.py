"""An optimiser that does not talk a trader into losses (issue 21): a result that lost money says so first, in the
CLI report, the JSON and the TOML snippet; in-sample ≤ 0 is a warning too."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution

from tests.optimize.helpers import CONFIG, write_data
from tradebot.optimize.report import Row, divergence, losses

# every combination loses on the bundled sample after fees (low thresholds: many trades, tight stops)
LOSING = CONFIG.split("[optimize.params]")[0].rstrip() + """
seed = 1

[optimize.params]
"strategy.threshold" = { choices = [3.0, 3.5] }
"risk.sl_atr" = { choices = [1.0, 1.5] }
"""


def _trial(oos_pnl: float, value: float = 1.0) -> optuna.trial.FrozenTrial:
    return optuna.create_trial(value=value, params={"x": 1.0}, distributions={"x": FloatDistribution(0, 2)},
                               user_attrs={"oos": {"pnl": oos_pnl}})


def _row(number: int, oos_pnl: float, is_: float = 1.0, holdout: float | None = None) -> Row:
    return Row(number, oos=1.0, is_=is_, attrs={"oos": {"pnl": oos_pnl}}, params={},
               holdout=None if holdout is None else {"score": 1.0, "pnl": holdout})


def test_a_result_that_made_money_everywhere_has_no_loss() -> None:
    assert losses([_trial(120.0), _trial(-5.0)], [_row(0, 120.0, holdout=30.0)]) == []
    assert losses([], []) == []  # no trial qualified: said apart


def test_no_trial_made_money_out_of_sample() -> None:
    out = losses([_trial(-30.43), _trial(-50.0)], [_row(9, -30.43, is_=-12.69)])
    assert out == ["no trial made money out-of-sample (best trial 9: -30.43 USDT)",
                   "it lost in-sample too (score -12.69)"]


def test_a_losing_hold_out_or_best_trial_is_said() -> None:
    assert losses([_trial(10.0)], [_row(3, 10.0, holdout=-234.95)]) == ["its hold-out loses -234.95 USDT"]
    # another trial made money, but the pick (by the objective) lost out of sample
    assert losses([_trial(-1.0), _trial(5.0)], [_row(4, -1.0)]) == ["best trial 4 lost -1.00 USDT out-of-sample"]


def test_in_sample_at_or_below_zero_warns() -> None:
    assert divergence(_row(2, 1.0, is_=0.0), 0.5) == [
        "trial 2: in-sample 0.00 ≤ 0: it lost even on the data it was fitted to"]
    assert divergence(_row(2, 1.0, is_=0.5), 0.5) == []


def test_cli_report_json_and_toml_open_with_the_loss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """On the bundled sample these settings lose after fees on every trial (as the issue's README run did)."""
    import bot

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONFIG_FILE", raising=False)
    cfg = tmp_path / "opt.toml"
    cfg.write_text(LOSING)
    btc, _ = write_data(tmp_path)
    assert bot.main(["--config", str(cfg), "optimize", "--symbol", "BTCUSDT", "--interval", "5", "--data", btc,
                     "--no-progress", "--trials", "4", "--workers", "1", "--storage", f"sqlite:///{tmp_path / 's.db'}",
                     "--json", "r.json", "--plot", "p.png"]) == 0
    out = capsys.readouterr().out
    rep = json.loads(Path("r.json").read_text())
    assert rep["warning"] and rep["warning"].startswith("⚠ LOSING: ") and rep["losing"]
    assert list(rep)[0] == "warning"  # the JSON's first key
    assert out.splitlines()[0] == rep["warning"]  # the report's first line
    assert rep["warning"].endswith("Do not trade these settings.")
    assert not any((t["attrs"].get("oos") or {}).get("pnl", 0) > 0 for t in rep["trials"] if t["state"] == "COMPLETE")
    assert rep["toml"].startswith("# ⚠ LOSING: ") and "Paste into config.toml only if you accept" in out
    assert tomllib.loads(rep["toml"])["strategy"]["threshold"] in (3.0, 3.5)  # still valid TOML
    assert "it lost even on the data it was fitted to" in out
    assert Path("p-history.png").read_bytes()[:4] == b"\x89PNG"
