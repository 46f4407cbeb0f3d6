"""Tiny two-symbol data and a fast [optimize] config for the optimize tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "BTCUSDT_5m.csv"

CONFIG = """
[bot]
candles = 100

[optimize]
windows = 2
train_ratio = 2.0
min_trades = 1
holdout_pct = 20
heartbeat_seconds = 1
top = 3
holdout_top = 2

[optimize.params]
"strategy.threshold" = { low = 3.0, high = 8.0, step = 0.5 }
"risk.sl_atr" = { low = 1.0, high = 2.5, step = 0.5 }
"risk.trailing_mode" = { choices = ["exchange", "bot"] }
"""


def write_data(folder: Path, bars: int = 2500) -> tuple[str, str]:
    """BTCUSDT from the bundled sample, and an "ETHUSDT" made from it (scaled and reversed in time)."""
    df = pd.read_csv(SAMPLE).head(bars)
    btc = folder / "BTCUSDT_5m.csv"
    df.to_csv(btc, index=False)
    eth = df.copy()
    for col in ("open", "high", "low", "close"):
        eth[col] = (df[col].iloc[::-1].to_numpy() / 40).round(2)
    eth["open"], eth["close"] = eth["close"].copy(), eth["open"].copy()
    eth_path = folder / "ETHUSDT_5m.csv"
    eth.to_csv(eth_path, index=False)
    return str(btc), str(eth_path)


def write_config(folder: Path, extra: str = "") -> str:
    path = folder / "opt.toml"
    path.write_text(CONFIG + extra)
    return str(path)
