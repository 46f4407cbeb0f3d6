"""Settings applied from the chat (/optimize → Apply): validated, kept in the journal, used by the tick."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.engine.conftest import make_config
from tradebot.tick.engine import TradingEngine


async def test_apply_persists_validates_and_yields_to_a_changed_config(make_rig) -> None:
    rig = make_rig()
    engine: TradingEngine = rig.engine
    out = await engine.applier.apply({"risk.tp_atr": 4.5, "strategy.ema.fast": 7, "risk.risk_pct": 2, "risk.leverage": 3})
    assert out.status == "ok" and "Leverage 3x is set on the exchange for BTCUSDT" in out.text
    assert engine.settings.risk.tp_atr == Decimal("4.5") and engine.settings.strategy.ema.fast == 7
    assert engine.settings.risk.risk_pct == Decimal("2")  # the same key /risk uses: the latest of the two wins
    await engine.set_risk(Decimal("1.5"))
    assert engine.settings.risk.risk_pct == Decimal("1.5") and engine.settings.risk.tp_atr == Decimal("4.5")
    restarted = TradingEngine(engine.cfg, engine.client, engine.journal)
    await restarted.settings.load()
    assert restarted.settings.risk.tp_atr == Decimal("4.5") and restarted.settings.strategy.ema.fast == 7
    with pytest.raises(ValidationError):  # ema.fast must stay below ema.slow: nothing is saved
        await engine.applier.apply({"strategy.ema.fast": 50})
    assert engine.settings.strategy.ema.fast == 7
    # a config whose ema.slow now sits below the saved fast: the saved change no longer fits, the config wins
    cfg = make_config()
    narrow = cfg.file.model_copy(update={"strategy": cfg.strategy.model_copy(update={"ema": cfg.strategy.ema.model_copy(
        update={"fast": 3, "slow": 6})})})
    other = TradingEngine(cfg.__class__(env=cfg.env, file=narrow, source="test", demo=True), engine.client, engine.journal)
    await other.settings.load()
    assert other.settings.strategy.ema.slow == 6 and other.settings.strategy.ema.fast == 3
    assert other.settings.applied()  # kept, not silently deleted
