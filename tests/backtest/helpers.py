"""Hand-made candle series and signal rows for backtest tests."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from tradebot.backtest import run_backtest
from tradebot.backtest.models import BacktestResult
from tradebot.market_model.book import BookParams
from tradebot.sizing.risk import RiskParams

T0 = 1_750_000_000_000 // 900_000 * 900_000  # a 15-minute boundary
STEP = 900_000


def frame(rows: list[tuple[float, float, float, float]], start: int = T0, step: int = STEP) -> pd.DataFrame:
    idx = pd.DatetimeIndex(pd.to_datetime([start + i * step for i in range(len(rows))], unit="ms", utc=True))
    data = {k: [r[i] for r in rows] for i, k in enumerate(("open", "high", "low", "close"))}
    return pd.DataFrame({**data, "volume": [1.0] * len(rows)}, index=idx)


def signals(df: pd.DataFrame, at: dict[int, str], atr: float = 100.0) -> pd.DataFrame:
    action = ["HOLD"] * len(df)
    for k, a in at.items():
        action[k] = a
    return pd.DataFrame({"action": action, "atr": [atr] * len(df)}, index=df.index)


def quiet_risk(**kw: object) -> RiskParams:
    """Risk settings whose protections never interfere unless a test asks."""
    base: dict[str, object] = {"cooldown_minutes": 0, "max_consecutive_losses": 0,
                               "daily_loss_limit_pct": Decimal(100),
                               # the stops the hand-made candles were drawn for (the defaults before issue 21)
                               "sl_atr": Decimal("1.5"), "tp_atr": Decimal("3.0"), "max_fee_share": Decimal("0.5")}
    return RiskParams(**{**base, **kw})


def run(rows: list[tuple[float, float, float, float]], at: dict[int, str], risk: RiskParams | None = None,
        fee: str = "0", **kw: object) -> BacktestResult:
    df = frame(rows)
    return run_backtest(df, risk or quiet_risk(), "BTCUSDT", Decimal("10000"), series=signals(df, at),
                        book_params=BookParams.zero(), taker_fee=Decimal(fee), verify=True, **kw)  # type: ignore[arg-type]
