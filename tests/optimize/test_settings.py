"""[optimize] validation (key, value, allowed; exit 2, no traceback), dotted-path changes and the TOML snippet."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.optimize.helpers import ROOT, SAMPLE
from tradebot.optimize.settings import OptimizeSettings
from tradebot.settings.config import FileConfig, load_config
from tradebot.settings.overrides import apply_changes, current_value, toml_snippet
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams


def test_defaults_and_example_agree() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text())["optimize"]
    assert OptimizeSettings.model_validate(example) == OptimizeSettings()


def test_nested_tables_and_dotted_keys_are_the_same() -> None:
    dotted = OptimizeSettings.model_validate({"params": {"strategy.ema.fast": {"low": 5, "high": 9}}})
    nested = OptimizeSettings.model_validate({"params": {"strategy": {"ema": {"fast": {"low": 5, "high": 9}}}}})
    assert dotted == nested and list(nested.params) == ["strategy.ema.fast"]


@pytest.mark.parametrize(("toml", "key", "words"), [
    ('[optimize.params]\n"strategy.emma.fast" = { low = 1, high = 3 }\n', "optimize.params.strategy.emma.fast",
     "unknown setting"),
    ('[optimize.params]\n"risk.sl_atr" = { low = 3, high = 1 }\n', "optimize.params.risk.sl_atr", "must be below"),
    ('[optimize.params]\n"strategy.ema.fast" = { low = 5.5, high = 9 }\n', "optimize.params.strategy.ema.fast",
     "whole number"),
    ('[optimize.params]\n"risk.trailing_mode" = { low = 1, high = 2 }\n', "optimize.params.risk.trailing_mode",
     "choices"),
    ('[optimize.params]\n"risk.sl_atr" = { low = 1, high = 2, step = 0.5, log = true }\n',
     "optimize.params.risk.sl_atr", "log and step"),
    ('[optimize.params]\n"risk.sl_atr" = { low = 1, hgh = 2 }\n', "optimize.params.risk.sl_atr.hgh", "unknown key"),
    ("[optimize]\nobjective = 'profit'\n", "optimize.objective", "'net_pnl', 'sharpe' or 'calmar'"),
    ("[optimize]\nholdout_pct = 95\n", "optimize.holdout_pct", "less than 90"),
    ("[optimize]\nwindow = 3\n", "optimize.window", "unknown key"),
])
def test_bad_optimize_config_exits_2_naming_key_value_allowed(tmp_path: Path, toml: str, key: str,
                                                              words: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    proc = subprocess.run([sys.executable, "bot.py", "--config", str(cfg), "optimize", "--symbol", "BTCUSDT",
                           "--interval", "5", "--data", str(SAMPLE), "--trials", "1", "--no-progress"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and key in proc.stderr and words in proc.stderr, proc.stderr


@pytest.mark.parametrize(("args", "key"), [
    (["--symbol", "BTCUSDT", "--symbol", "ETHUSDT", "--data", str(SAMPLE)], "--data"),
    (["--symbol", "BTCUSDT", "--data", str(SAMPLE), "--interval", "7"], "--interval"),
    (["--symbol", "BTCUSDT", "--data", str(SAMPLE), "--workers", "0"], "--workers"),
    (["--symbol", "BTCUSDT", "--data", str(SAMPLE), "--storage", "ftp://x:secretpw@host/db"], "--storage"),
    (["--symbol", "BTCUSDT", "--data", str(SAMPLE), "--objective", "sharpe", "--holdout", "99"],
     "optimize.holdout_pct"),
])
def test_bad_arguments_exit_2(args: list[str], key: str, capsys: pytest.CaptureFixture[str]) -> None:
    import bot

    argv = ["optimize", "--trials", "1", "--no-progress", *([] if "--interval" in args else ["--interval", "5"]),
            *args]
    assert bot.main(argv) == 2
    err = capsys.readouterr().err
    assert key in err and "secretpw" not in err


def test_changes_keep_types_and_rules() -> None:
    risk, strategy = apply_changes(RiskParams(), StrategyParams(),
                                   {"risk.sl_atr": 2.25, "strategy.ema.fast": 12.0, "strategy.threshold": 5.5,
                                    "risk.trailing_mode": "bot", "strategy.higher_timeframes.1.period": 30})
    assert risk.sl_atr == Decimal("2.25") and isinstance(risk.sl_atr, Decimal) and risk.trailing_mode == "bot"
    assert strategy.ema.fast == 12 and strategy.threshold == 5.5 and strategy.higher_timeframes[1].period == 30
    assert current_value("risk.sl_atr", risk, strategy) == Decimal("2.25")
    with pytest.raises(ValidationError, match="shorter than slow"):
        apply_changes(RiskParams(), StrategyParams(), {"strategy.ema.fast": 30})
    with pytest.raises(KeyError):
        current_value("strategy.ema", RiskParams(), StrategyParams())


def test_toml_snippet_pastes_into_a_valid_config() -> None:
    changes = {"risk.sl_atr": Decimal("2.25"), "strategy.ema.fast": 12, "strategy.threshold": 5.5,
               "risk.trailing_mode": "bot"}
    snippet = toml_snippet(changes)
    assert snippet.index("[strategy]") < snippet.index("[strategy.ema]")
    cfg = FileConfig.model_validate(tomllib.loads(snippet))
    assert cfg.risk.sl_atr == Decimal("2.25") and cfg.strategy.ema.fast == 12 and cfg.risk.trailing_mode == "bot"
    assert cfg.strategy.threshold == 5.5


def test_config_loads_optimize_table(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[optimize]\nobjective = "calmar"\n[optimize.params]\n"risk.tp_atr" = { low = 2, high = 5 }\n')
    cfg = load_config({}, str(p), demo=True)
    assert cfg.optimize.objective == "calmar" and list(cfg.optimize.params) == ["risk.tp_atr"]


def test_unreachable_storage_exits_1_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    import bot

    code = bot.main(["optimize", "--symbol", "BTCUSDT", "--interval", "5", "--data", str(SAMPLE), "--trials", "1",
                     "--workers", "1", "--no-progress", "--storage", "postgresql://bob:hunter2@127.0.0.1:1/x"])
    err = capsys.readouterr().err
    assert code == 1 and "study storage postgresql+psycopg://bob:***@127.0.0.1:1/x" in err and "hunter2" not in err
