"""One source of live settings (issue 21): after Apply, the engine, /signal, /chart and /backtest all use exactly
the applied settings; before, /signal and /chart read the config file's."""

from __future__ import annotations

from typing import Any

import pytest

import tradebot.chat.service as service
from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import CHAT, Rig
from tradebot.backtest.remote import BacktestReport

CHANGES = {"strategy.ema.fast": 7, "strategy.ema.slow": 30, "strategy.bbands.period": 15}


async def test_applied_settings_reach_the_engine_signal_chart_and_backtest(rig: Rig,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    deps = rig.deps
    assert (deps.cfg.strategy.ema.fast, deps.cfg.strategy.ema.slow) == (5, 20)
    await deps.service.apply_settings(CHANGES, "test")
    engine = deps.engine

    # 1. what the engine trades: its tick's signal is computed with the applied EMAs
    await rig.tick()
    traded = engine.market.last_signals[SYMBOL]
    now = await engine.signal_now(SYMBOL)
    ema = traded.vote("ema")
    assert ema is not None and now.vote("ema") == ema

    # 2. /signal: the same vote, labelled with the applied periods
    text = (await rig.send("/signal btc")).plain
    assert "EMA 7 − EMA 30" in text and "EMA 5 − EMA 20" not in text

    # 3. /chart: drawn with the applied EMAs and bands
    drawn: list[tuple[Any, ...]] = []

    async def cpu(fn: Any, *args: Any) -> bytes:
        drawn.append(args)
        return b"\x89PNG\r\n\x1a\nfake"

    monkeypatch.setattr(deps.service.heavy, "cpu", cpu)
    rig.hub.push_message(CHAT, f"/chart {SYMBOL}")
    await rig.hub.wait_for(lambda m: m.photo is not None, timeout=30)
    [(data, fast, slow, period, _dev)] = drawn
    assert (fast, slow, period) == (7, 30, 15) and data.strategy == engine.settings.strategy

    # 4. /backtest: run on the applied strategy
    seen: list[Any] = []

    async def backtest(client: Any, cfg: Any, *args: Any, **kw: Any) -> BacktestReport:
        seen.append(cfg.strategy)
        return BacktestReport("Net PnL 0.00 USDT\nSettings: 5m candles", b"\x89PNG\r\n\x1a\nfake", 0)

    monkeypatch.setattr(service, "backtest_recent", backtest)
    await rig.send("/backtest BTCUSDT 2")
    await rig.hub.wait_for(lambda m: m.plain.startswith("Settings:"), timeout=30)
    assert seen == [engine.settings.strategy] and seen[0].ema.fast == 7 and seen[0].bbands.period == 15
