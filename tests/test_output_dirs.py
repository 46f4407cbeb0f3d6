"""Every output flag of bot.py creates the directories its path names (a fresh checkout has no out/)."""

from __future__ import annotations

import argparse
import sys
import threading
import warnings
from pathlib import Path

import pytest

import bot

ROOT = Path(__file__).resolve().parents[1]


def test_backtest_writes_into_directories_that_did_not_exist(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONFIG_FILE", "")
    for mod, name in ((sys, "excepthook"), (sys, "unraisablehook"), (threading, "excepthook"),
                      (warnings, "showwarning")):  # bot.main installs its stderr hooks: give pytest its own back
        monkeypatch.setattr(mod, name, getattr(mod, name))
    code = bot.main(["backtest", "--symbol", "BTCUSDT", "--interval", "5", "--no-progress",
                     "--data", str(ROOT / "data/sample/BTCUSDT_5m.csv"), "--json", "out/a/report.json",
                     "--plot", "out/b/equity.png", "--trades-csv", "out/c/d/trades.csv"])
    assert code == 0
    for rel in ("out/a/report.json", "out/b/equity.png", "out/c/d/trades.csv"):
        assert (tmp_path / rel).is_file(), rel


def test_every_output_flag_uses_output_path() -> None:
    parser = bot.build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    flags = {(name, opt): action.type for name, sub in subs.choices.items() for action in sub._actions
             for opt in action.option_strings if opt in ("--json", "--plot", "--trades-csv", "--out", "--csv")}
    assert flags, "no output flags found"
    for (name, opt), kind in flags.items():
        assert kind is bot.output_path, f"bot.py {name} {opt} does not create its parent directory"


def test_an_impossible_directory_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as info:
        bot.build_parser().parse_args(["backtest", "--json", str(tmp_path / "file" / "r.json")])
    assert info.value.code == 2
