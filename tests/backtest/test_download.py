"""`bot.py download` against the in-process simulator: backwards pagination, no forming candle, resume."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from proving.sim import Simulator
from tradebot.backtest.download import download, read_cache

START = 1_750_000_000_000 // 300_000 * 300_000
N = 2600


def candles(n: int = N) -> list[list[str]]:
    out, price = [], Decimal("60000.0")
    for i in range(n):
        close = price + Decimal(i % 7 - 3) * Decimal("10.0")
        hi, lo = max(price, close) + 5, min(price, close) - 5
        out.append([str(START + i * 300_000), str(price), str(hi), str(lo), str(close), "1.5"])
        price = close
    return out


def sim_at(warmup: int) -> Simulator:
    """A replay whose forming candle is ``candles()[warmup]``; its server clock is the market clock."""
    box: list[Simulator] = []
    sim = Simulator(candles={"BTCUSDT": candles()}, warmup=warmup, rate_limits=False,
                    wall_clock=lambda: box[0].market_time() if box else START)
    box.append(sim)
    return sim


async def test_pages_backwards_drops_the_forming_candle_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "BTCUSDT_5.csv"
    sim = sim_at(2400)
    rep = await download("BTCUSDT", "5", 30, out, "http://sim", progress=False, transport=sim.transport())
    assert (rep.fetched, rep.total, rep.requests, rep.dropped_forming) == (2400, 2400, 3, 1)
    with out.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["timestamp_ms", "open", "high", "low", "close", "volume"]
    assert rows[1:] == candles()[:2400]  # exact strings, oldest first, no gaps, no forming candle

    sim.step(150)  # 150 more candles close
    rep2 = await download("BTCUSDT", "5", 30, out, "http://sim", progress=False, transport=sim.transport())
    assert (rep2.fetched, rep2.total, rep2.requests) == (150, 2550, 2)  # one empty look further back
    assert list(read_cache(out).values()) == [tuple(r) for r in candles()[:2550]]


async def test_days_limit_the_range(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    sim = sim_at(2400)
    rep = await download("BTCUSDT", "5", 1, out, "http://sim", progress=False, transport=sim.transport())
    assert rep.fetched == 288 and rep.requests == 1  # one day of 5m candles


def test_cli_reports_failure(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import bot

    code = bot.main(["download", "--base-url", "http://127.0.0.1:9", "--days", "1", "--no-progress",
                     "--out", str(tmp_path / "x.csv")])
    assert code == 1 and "download failed" in capsys.readouterr().err
