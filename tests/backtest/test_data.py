"""CSV loading for the backtest: gaps and duplicate timestamps are reported, never silently used."""

from __future__ import annotations

from pathlib import Path

from tradebot.backtest.data import load_candles, parse_date, window


def test_gaps_and_duplicates_are_reported(tmp_path: Path) -> None:
    rows = ["timestamp,open,high,low,close,volume"]
    for i in (0, 1, 2, 2, 3, 6, 7):  # bar 2 twice; bars 4-5 missing
        rows.append(f"{1_750_000_000_000 // 300_000 * 300_000 + i * 300_000},1,2,0.5,1.5,{10 + i}")
    path = tmp_path / "c.csv"
    path.write_text("\n".join(rows) + "\n")
    lines: list[str] = []
    df, q = load_candles(path, report=lines.append)
    assert len(df) == 6 and df.index.is_unique
    assert df["volume"].tolist()[2] == 12  # the first of the duplicated rows is kept
    assert "1 duplicate(s), 1 gap(s) (2 missing bars)" in lines[0]
    assert any("duplicate timestamp" in line for line in lines)
    assert any("gap: 2 missing bar(s)" in line for line in lines)


def test_window_keeps_warmup_and_cuts_the_end(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    + "".join(f"2025-01-0{d}T00:00:00Z,1,2,0.5,1.5,1\n" for d in range(1, 6)))
    df, _ = load_candles(path, report=lambda _: None)
    cut = window(df, parse_date("2025-01-03"), parse_date("2025-01-05"))
    assert [t.day for t in cut.index] == [1, 2, 3, 4]
