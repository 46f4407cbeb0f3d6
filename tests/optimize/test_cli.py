"""`bot.py optimize` end to end on tiny data: 2 local workers on one study, report, JSON, PNGs, resume."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.optimize.helpers import write_config, write_data
from tradebot.settings.config import FileConfig


def _run(tmp_path: Path, cfg: str, *extra: str) -> int:
    import bot

    btc, eth = write_data(tmp_path)
    return bot.main(["--config", cfg, "optimize", "--symbol", "BTCUSDT", "--symbol", "ETHUSDT", "--interval", "5",
                     "--data", btc, eth, "--no-progress", *extra])


def test_two_local_workers_report_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONFIG_FILE", raising=False)
    cfg = write_config(tmp_path)
    assert _run(tmp_path, cfg, "--trials", "6", "--workers", "2", "--json", "r.json", "--plot", "p.png") == 0
    out = capsys.readouterr()
    assert Path("data/cache/optuna.db").exists()  # the default shared storage
    assert "Settings: 5m candles · risk 1.0% of balance per trade, fees included" in out.out
    assert "Walk-forward: 2 window(s)" in out.out and "Hold-out (untouched" in out.out
    assert "OOS" in out.out and "IS" in out.out and "Paste into config.toml" in out.out
    if rep_warning := json.loads(Path("r.json").read_text())["warning"]:  # a losing result opens with it
        assert out.out.splitlines()[0] == rep_warning
    rep = json.loads(Path("r.json").read_text())
    c = rep["counts"]
    assert 6 <= c["complete"] + c["pruned"] <= 7 and c["fail"] == 0 and c["running"] == 0  # 2 workers: ≤ 1 extra
    assert len(rep["windows"]) == 2 and rep["holdout"] is not None
    best = rep["best"][0]
    assert best["oos_score"] == max(t["value"] for t in rep["trials"] if t["state"] == "COMPLETE")
    assert {"is", "oos", "is_windows", "oos_windows"} <= set(best) and len(best["oos_windows"]) == 2
    assert best["holdout"] is not None and "score" in best["holdout"]
    pasted = FileConfig.model_validate(tomllib.loads(rep["toml"])) if rep["toml"] else None
    for path, (_, new) in rep["changes"].items():
        assert pasted is not None
        section, _, key = path.partition(".")
        assert str(getattr(getattr(pasted, section), key)) in (str(new), f"{new}.0", str(float(new))
                                                               if not isinstance(new, str) else new)
    for name in ("p.png", "p-equity.png", "p-importance.png", "p-history.png"):
        assert Path(name).read_bytes()[:4] == b"\x89PNG"
    numbers = [t["number"] for t in rep["trials"]]
    assert len(numbers) == len(set(numbers))

    # the same command with a higher target continues the same study; at the target it runs nothing more
    assert _run(tmp_path, cfg, "--trials", "8", "--workers", "1", "--json", "r2.json") == 0
    assert f"study {rep['study']}" in capsys.readouterr().err
    rep2 = json.loads(Path("r2.json").read_text())
    assert rep2["study"] == rep["study"]
    done2 = rep2["counts"]["complete"] + rep2["counts"]["pruned"]
    assert done2 == max(8, c["complete"] + c["pruned"])
    assert _run(tmp_path, cfg, "--trials", "8", "--workers", "1", "--json", "r3.json") == 0
    rep3 = json.loads(Path("r3.json").read_text())
    assert len(rep3["trials"]) == len(rep2["trials"])

    # joining that study with other settings is refused, naming what differs
    other = write_config(tmp_path)
    Path(other).write_text(Path(other).read_text().replace("min_trades = 1", "min_trades = 2"))
    capsys.readouterr()
    assert _run(tmp_path, other, "--trials", "9", "--workers", "1", "--study", rep["study"]) == 2
    assert "different setup" in capsys.readouterr().err


def test_days_downloads_and_ends_on_a_utc_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """--days goes through the backtest's download (faked here) and cuts at the last whole UTC day, so the
    same command later that day derives the same study name and continues it."""
    import bot
    from tests.optimize.helpers import SAMPLE
    from tradebot.optimize import cli

    asked: list[tuple[str, str, int]] = []

    async def fake_download(symbol: str, interval: str, days: int, path: Path, progress: bool = True) -> object:
        asked.append((symbol, interval, days))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(SAMPLE.read_text())  # noqa: ASYNC240 - a test fake
        return type("Report", (), {"path": path})()

    monkeypatch.setattr(cli, "download", fake_download)
    monkeypatch.chdir(tmp_path)
    cfg = write_config(tmp_path)
    argv = ["--config", cfg, "optimize", "--symbol", "BTCUSDT", "--interval", "5", "--days", "6", "--trials", "2",
            "--workers", "1", "--no-progress", "--json", "d.json"]
    assert bot.main(argv) == 0
    assert asked and asked[0][:2] == ("BTCUSDT", "5") and asked[0][2] >= 6
    rep = json.loads(Path("d.json").read_text())
    assert rep["holdout"]["end"].endswith("T00:00:00+00:00")
    assert bot.main([*argv[:-2], "--json", "d2.json"]) == 0
    assert json.loads(Path("d2.json").read_text())["study"] == rep["study"]
