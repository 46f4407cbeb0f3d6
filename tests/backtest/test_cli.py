"""`bot.py backtest --data ... --json ... --plot ...` end to end through bot.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "BTCUSDT_5m.csv"


def test_backtest_cli_writes_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    import bot

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONFIG_FILE", raising=False)
    code = bot.main(["backtest", "--symbol", "BTCUSDT", "--interval", "15", "--data", str(SAMPLE), "--json",
                     "out.json", "--plot", "out.png", "--trades-csv", "trades.csv", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "0 duplicate(s), 0 gap(s)" in out and "resampling 5m candles to 15" in out and "Net PnL" in out
    report = json.loads(Path("out.json").read_text())
    assert report["interval_minutes"] == 15 and report["bars"] > 1000
    assert len(report["trades"]) == report["trades_count"]
    assert Path("out.png").read_bytes()[:4] == b"\x89PNG"
    assert Path("trades.csv").read_text().count("\n") == report["trades_count"] + 1


def test_backtest_cli_window_and_bad_balance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import bot

    monkeypatch.chdir(tmp_path)
    assert bot.main(["backtest", "--data", str(SAMPLE), "--balance", "-5", "--no-progress"]) == 2
    code = bot.main(["backtest", "--data", str(SAMPLE), "--from", "2025-06-25", "--to", "2025-06-28",
                     "--json", "w.json", "--no-progress"])
    assert code == 0
    report = json.loads(Path("w.json").read_text())
    assert report["start"] == "2025-06-25T00:00:00+00:00" and report["end"] == "2025-06-28T00:00:00+00:00"
    assert bot.main(["backtest", "--data", str(tmp_path / "missing.csv"), "--no-progress"]) == 1
