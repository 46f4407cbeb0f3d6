"""The backtest report fills in every figure: sizing refusals say "51.2–88.4%", never "#%" (issue 21)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradebot.backtest import render_summary
from tradebot.backtest.engine import run_backtest
from tradebot.market import load_csv
from tradebot.sizing.risk import RiskParams
from tradebot.strategy import StrategyParams

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "BTCUSDT_5m.csv"


def test_fee_refusals_on_the_bundled_sample_show_their_range() -> None:
    df, _ = load_csv(SAMPLE)
    risk = RiskParams(max_fee_share=Decimal("0.2"), sl_atr=Decimal("1.5"))  # most 5m stops are too tight for that
    result = run_backtest(df.tail(1500), risk, strategy=StrategyParams.model_validate({"threshold": 3.0}))
    text = render_summary(result)
    refused = [line for line in text.splitlines() if line.startswith("Not sized")]
    assert refused and any("round-trip fees would take " in line for line in refused), text
    assert all("#" not in line for line in refused), refused
    assert any("% of the risk" in line and any(c.isdigit() for c in line.split("take ")[1]) for line in refused)
