"""Report figures on a hand-computed trade list; JSON/CSV outputs; the PNG."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from tradebot.backtest import compute_metrics, plot_equity, render_summary, to_dict
from tradebot.backtest.models import BacktestResult, Trade
from tradebot.backtest.report import write_json, write_trades_csv
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams

D0 = datetime(2025, 1, 1, tzinfo=UTC)


def trade(side: str, pnl: str, fees: str, day: int) -> Trade:
    t = D0 + timedelta(days=day)
    return Trade("BTCUSDT", side, t, Decimal("100"), t + timedelta(hours=1), Decimal("101"), Decimal("1"),
                 Decimal(pnl), Decimal(fees), "take_profit", Decimal("99"), Decimal("103"), Decimal("1"), 0, 1, 3)


def result() -> BacktestResult:
    trades = [trade("Buy", "100", "2", 0), trade("Sell", "-50", "1", 1), trade("Buy", "30", "1.5", 2),
              trade("Sell", "-20", "0.5", 3)]
    days = pd.date_range(D0, periods=4, freq="D", tz=UTC)
    equity = pd.Series([10100.0, 10050.0, 10080.0, 10060.0], index=days)
    return BacktestResult("BTCUSDT", 86_400_000, D0, D0 + timedelta(days=4), 4, Decimal(10000), Decimal(10060),
                          trades, equity, np.array([True, False, True, False]), RiskParams(), StrategyParams())


def test_figures_match_hand_computation() -> None:
    m = compute_metrics(result())
    assert (m.net_pnl, m.trades, m.wins, m.losses, m.win_rate) == (Decimal(60), 4, 2, 2, 50.0)
    assert m.profit_factor == 130 / 70
    assert (m.avg_win, m.avg_loss, m.fees) == (Decimal(65), Decimal(-35), Decimal("5.0"))
    assert m.net_pnl_pct == 0.6 and m.exposure_pct == 50.0
    assert math.isclose(m.max_drawdown_pct, 50 / 10100 * 100) and math.isclose(m.max_drawdown, 50.0)
    r = np.array([100 / 10000, -50 / 10100, 30 / 10050, -20 / 10080])
    assert math.isclose(m.sharpe, r.mean() / r.std(ddof=1) * math.sqrt(365))
    assert math.isclose(m.sortino, r.mean() / math.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(365))
    assert (m.by_side["Buy"].trades, m.by_side["Buy"].net_pnl, m.by_side["Sell"].win_rate) == (2, Decimal(130), 0.0)


def test_json_has_the_documented_keys(tmp_path: Path) -> None:
    write_json(result(), tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    for key in ("trades", "net_pnl", "net_pnl_pct", "win_rate", "profit_factor", "max_drawdown_pct", "sharpe",
                "fees", "bars"):
        assert key in data
    assert data["net_pnl"] == "60" and data["bars"] == 4 and data["fees"] == "5.0"
    row = data["trades"][0]
    assert set(row) >= {"side", "entry_time", "entry_price", "exit_time", "exit_price", "qty", "pnl", "fees",
                        "reason"}
    assert row["pnl"] == "100" and row["entry_time"] == "2025-01-01T00:00:00+00:00"


def test_undefined_ratios_are_null() -> None:
    r = result()
    r.trades = r.trades[:1]
    assert to_dict(r)["profit_factor"] is None
    assert "∞" in render_summary(r)


def test_trades_csv_and_png(tmp_path: Path) -> None:
    write_trades_csv(result().trades, tmp_path / "t.csv")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0].startswith("side,entry_time,entry_price") and len(lines) == 5
    png = plot_equity(result(), tmp_path / "e.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "e.png").read_bytes() == png


def test_summary_table() -> None:
    text = render_summary(result())
    assert "Net PnL          60.00 USDT (+0.60%)" in text
    assert "Win rate         50.00%" in text and "Shorts" in text


def test_gross_fees_and_net_side_by_side_with_the_fee_share() -> None:
    """Issue 11 §2: the report shows gross PnL, fees and net side by side, and what share of gross fees took."""
    res = result()
    m = compute_metrics(res)
    assert (m.gross_pnl, m.fees, m.gross_pnl - m.fees) == (Decimal("65.0"), Decimal("5.0"), Decimal(60))
    assert math.isclose(m.fee_share_pct, 5 / 65 * 100)
    text = render_summary(res, m)
    assert "Gross/fees/net   65.00 − 5.00 = 60.00 USDT" in text
    assert "Fee share        fees took 7.7% of gross PnL" in text
    data = to_dict(res, m)
    assert (data["gross_pnl"], data["fees"], data["trades_net_pnl"]) == ("65.0", "5.0", "60.0")
    assert math.isclose(data["fee_share_of_gross_pct"], 7.692308)
    losing = BacktestResult(res.symbol, res.interval_ms, res.start, res.end, 1, Decimal(10000), Decimal(9998),
                            [trade("Buy", "-2", "3", 0)], res.equity[:1], np.array([False]), RiskParams(),
                            StrategyParams())
    lm = compute_metrics(losing)
    assert lm.gross_pnl == 1 and math.isclose(lm.fee_share_pct, 300.0)  # fees took 3× the gross
    flat = BacktestResult(res.symbol, res.interval_ms, res.start, res.end, 1, Decimal(10000), Decimal(9997),
                          [trade("Buy", "-3", "3", 0)], res.equity[:1], np.array([False]), RiskParams(),
                          StrategyParams())
    assert "fees took all of it: gross PnL 0.00 USDT is not positive" in render_summary(flat)
