"""The fast bar loops (float pre-scan + Decimal on candidates; integer ticks) equal a plain exact replay of every bar."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import tradebot.backtest.engine as engine
from tests.backtest.helpers import quiet_risk
from tradebot.backtest.data import load_candles
from tradebot.backtest.models import MARKET
from tradebot.backtest.position import Exit, OpenPosition, dec
from tradebot.backtest.walk import DecimalRunner
from tradebot.sizing.execution import ExecutionSettings
from tradebot.strategy import StrategyParams

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "BTCUSDT_5m.csv"
OFF = ["sma", "rsi", "stochrsi", "macd", "bbands", "adx", "cci", "willr", "mfi", "obv", "sar", "roc", "keltner",
       "patterns", "vwap", "volume"]
EMA_ONLY = StrategyParams.model_validate({"threshold": 1.0, **{k: {"enabled": False} for k in OFF},
                                          "higher_timeframes": [], "orderbook": {"enabled": False}})


def naive_run(self: DecimalRunner, pos: OpenPosition) -> Exit:
    """Every bar replayed exactly: gap, tick management, path."""
    b, rp, j0 = self.bars, self.rp, pos.entry_bar
    ex = rp.walk_bar(pos, j0, dec(b.o[j0]), dec(b.h[j0]), dec(b.lo[j0]), dec(b.c[j0]), None, None)
    for c in range(j0 + 1, b.n):
        if ex is not None:
            return ex
        extreme = b.h[c - 1] if pos.sign > 0 else b.lo[c - 1]
        ex = rp.walk_bar(pos, c, dec(b.o[c]), dec(b.h[c]), dec(b.lo[c]), dec(b.c[c]), dec(b.c[c - 1]), dec(extreme))
    return ex or rp.exit_at(pos, b.n - 1, 3, "EndOfData", dec(b.c[b.n - 1]))


MAKER = ExecutionSettings(mode="maker_first", reprice_window_s=600)  # two 5m bars
MAKER_SKIP = ExecutionSettings(mode="maker_first", reprice_window_s=60, fallback="skip")


@pytest.mark.parametrize(("mode", "walk"), [("exchange", "python"), ("bot", "python"), ("bot", "compiled")])
@pytest.mark.parametrize("be", ["0.5", "1.0", "3"])
@pytest.mark.parametrize("execution", [MARKET, MAKER, MAKER_SKIP], ids=["market", "maker", "maker-skip"])
def test_fast_loop_equals_exact_replay(monkeypatch: pytest.MonkeyPatch, mode: str, walk: str, be: str,
                                       execution: ExecutionSettings) -> None:
    from tradebot.backtest.ticks import CompiledWalk

    walks = CompiledWalk(after=10**12)
    if walk == "compiled":
        assert walks.preload() is not None
    df, _ = load_candles(SAMPLE, report=lambda _: None)
    risk = quiet_risk(trailing_mode=mode, breakeven_trigger_atr=Decimal(be), trail_trigger_atr=Decimal("1.2"),
                      trail_atr=Decimal("0.7"))
    fast = engine.run_backtest(df, risk, strategy=EMA_ONLY, verify=True, execution=execution, walks=walks)
    monkeypatch.setattr(DecimalRunner, "run", naive_run)
    slow = engine.run_backtest(df, risk, strategy=EMA_ONLY, exact=True, execution=execution)
    assert len(fast.trades) > 100
    if execution.maker:  # both kinds of fill happen, so both branches are compared
        assert any(t.entry_maker for t in fast.trades) and any(t.exit_maker for t in fast.trades)
        assert execution.fallback == "skip" or any(not t.entry_maker for t in fast.trades)
    assert fast.replay == "ticks" and slow.replay == "decimal"
    assert fast.trades == slow.trades
    assert fast.final_balance == slow.final_balance == Decimal(10000) + sum(t.pnl for t in fast.trades)


def test_protections_fast_path_agrees_with_protection_state() -> None:
    df, _ = load_candles(SAMPLE, report=lambda _: None)
    risk = quiet_risk(cooldown_minutes=20, max_consecutive_losses=3, daily_loss_limit_pct=Decimal(2))
    res = engine.run_backtest(df, risk, strategy=EMA_ONLY, verify=True)  # asserts on every signal
    assert res.pauses and res.trades


@pytest.mark.parametrize("mode", ["exchange", "bot"])
@pytest.mark.parametrize("execution", [MARKET, ExecutionSettings()], ids=["market", "default-maker-first"])
def test_default_settings_tick_replay_equals_the_decimal_replay(mode: str, execution: ExecutionSettings) -> None:
    """The default strategy and risk settings (every indicator, higher timeframes, break-even, protections;
    Bybit's trailing stop by default, the bot's as well; market entries, and the default maker-first ones) give
    the exact Decimal replay's trades on ticks."""
    from tradebot.sizing.risk import RiskParams

    df, _ = load_candles(SAMPLE, report=lambda _: None)
    risk = RiskParams(trailing_mode=mode)  # type: ignore[arg-type]
    fast = engine.run_backtest(df, risk, strategy=StrategyParams(), verify=True, execution=execution)
    slow = engine.run_backtest(df, risk, strategy=StrategyParams(), exact=True, execution=execution)
    assert fast.replay == "ticks" and slow.replay == "decimal"
    assert len(fast.trades) >= 15
    # every kind of exit is compared (issue 21's wider default stops also leave one open at the end of the data)
    assert {"stop_loss", "take_profit", "trailing_stop", "breakeven_stop"} <= {t.reason for t in fast.trades}
    assert fast.trades == slow.trades and fast.final_balance == slow.final_balance


def test_the_compiled_walk_is_loaded_once_a_process_has_walked_enough_positions() -> None:
    """A CompiledWalk switches to the compiled walk mid-run after ``after`` positions; the trades do not change
    (its state is the object's: the module holds none)."""
    from tradebot.backtest.ticks import CompiledWalk

    walks = CompiledWalk(after=10)
    df, _ = load_candles(SAMPLE, report=lambda _: None)
    risk = quiet_risk(trailing_mode="bot", breakeven_trigger_atr=Decimal("0.5"), trail_trigger_atr=Decimal("1.2"),
                      trail_atr=Decimal("0.7"))
    fast = engine.run_backtest(df, risk, strategy=EMA_ONLY, walks=walks)
    assert walks.kernel is not None and walks.walked == len(fast.trades) > 100
    assert fast.trades == engine.run_backtest(df, risk, strategy=EMA_ONLY, exact=True).trades
