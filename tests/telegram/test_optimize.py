"""/optimize SYMBOL DAYS TRIALS over the real Application: progress edits, summary + PNG, Apply → confirm → live."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from proving.sim import BookParams, Simulator
from tests.engine.conftest import KEY, SECRET, SYMBOL
from tests.telegram.conftest import CHAT, Rig
from tradebot.optimize.settings import OptimizeSettings
from tradebot.tick.engine import TradingEngine

BARS = 1600


def wave_rows(n: int, t0: int = 1_750_000_000_000) -> list[tuple[int, str, str, str, str, str]]:
    rows, prev = [], 50_000.0
    for i in range(n):
        close = 50_000 + 2.0 * i + 400 * math.sin(i / 25)
        hi, lo = max(prev, close) + 20, min(prev, close) - 20
        rows.append((t0 + i * 300_000, f"{prev:.1f}", f"{hi:.1f}", f"{lo:.1f}", f"{close:.1f}", "10"))
        prev = close
    return rows


async def _rig(make_rig: Callable[..., Any]) -> Rig:
    sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: wave_rows(BARS)}, warmup=BARS - 10, rate_limits=False,
                    book=BookParams.zero(), api_key=KEY, api_secret=SECRET, balance=Decimal("10000"))
    rig = await make_rig(sim=sim)
    await rig.hub.wait_for(lambda m: "Started" in m.plain)
    settings = OptimizeSettings.model_validate({
        "windows": 2, "train_ratio": 2.0, "holdout_pct": 20, "min_trades": 1, "seed": 7,
        "params": {"risk.tp_atr": {"low": 4, "high": 6, "step": 1}, "risk.sl_atr": {"low": 1, "high": 2, "step": 0.5}},
    })
    cfg = rig.deps.cfg
    rig.deps.cfg = dataclasses.replace(cfg, file=cfg.file.model_copy(update={"optimize": settings}))
    return rig


async def test_optimize_progress_result_and_a_losing_apply_asked_twice(make_rig: Callable[..., Any]) -> None:
    """On this wave every trial loses (in-sample, out-of-sample and on the hold-out): the chat says so first, and
    Apply shows the loss and needs a second, explicit confirmation (issue 21: it used to switch the bot at once)."""
    rig = await _rig(make_rig)
    engine = rig.deps.engine
    assert engine.settings.risk.tp_atr == Decimal("3.0")
    await rig.tick()  # the market clock: the optimization ends at the exchange's "now" (its alerts delivered first)
    progress = await rig.send(f"/optimize {SYMBOL} 4 6")
    first = progress.edits[0].text if progress.edits else progress.text
    assert first and first.startswith(f"⏳ Optimizing {SYMBOL} over 4 day(s): 0/6 trials")
    result = await rig.hub.wait_for(lambda m: any("Apply" in label for r in m.buttons for label, _ in r)
                                    or "Optimize failed" in m.plain, timeout=90)
    assert "Optimize failed" not in progress.plain, progress.plain
    assert progress.plain.startswith(f"⚠ Optimized {SYMBOL}: 6 trial(s) done, and the best one LOSES money")
    assert any("/6 trials" in (e.text or "") for e in progress.edits)  # edited as trials finished
    [photo] = [m for m in rig.hub.sent(CHAT) if m.photo is not None]
    assert photo.photo.startswith(b"\x89PNG") and "Settings: 5m candles" in (photo.caption or "")
    assert (photo.caption or "").startswith("<pre>⚠ LOSING: no trial made money out-of-sample")
    text = result.plain
    assert text.startswith("⚠ LOSING: no trial made money out-of-sample") and "Do not trade these settings." in text
    assert "its hold-out loses -" in text and "it lost in-sample too" in text
    assert "Best trials" in text and "OOS" in text and "IS" in text
    assert "Paste into config.toml only if you accept the warning above:\n# ⚠ LOSING: " in text
    assert "[risk]" in text and "tp_atr = " in text
    assert [label for r in result.buttons for label, _ in r] == ["⚠ Apply anyway…"]

    await rig.tap(result, "⚠ Apply anyway…")
    ask = await rig.hub.wait_for(lambda m: m.plain.startswith("Apply these settings"))
    assert "risk.tp_atr: 3 → " in ask.plain and engine.settings.risk.tp_atr == Decimal("3.0")  # nothing changed yet
    assert "⚠ LOSING: no trial made money" in ask.plain and "you will be asked once more" in ask.plain
    first_data = ask.buttons[0][0][1]
    await rig.tap(ask, "⚠ Apply losing settings…")
    again_ask = await rig.hub.wait_for(lambda m: m.plain.startswith("⚠ Second confirmation."))
    assert "⚠ LOSING: " in again_ask.plain and engine.settings.risk.tp_atr == Decimal("3.0")  # still nothing changed
    n = len(rig.hub.answers)  # the first question's button is spent: it cannot apply on its own
    await rig.tap_data(ask, first_data)
    assert rig.hub.answers[n].show_alert and engine.settings.risk.tp_atr == Decimal("3.0")
    second_data = again_ask.buttons[0][0][1]
    await rig.tap(again_ask, "⚠ Yes, apply the losing settings")
    assert "Applied" in again_ask.plain
    new_tp = engine.settings.risk.tp_atr
    assert new_tp in (Decimal(4), Decimal(5), Decimal(6))
    # kept in the journal: a new engine (a restart) reads the same settings
    again = TradingEngine(engine.cfg, rig.deps.client, rig.deps.journal)
    await again.settings.load()  # what start() does first
    assert again.settings.risk.tp_atr == new_tp and again.settings.risk.risk_pct == engine.settings.risk.risk_pct
    # /backtest runs on the live settings and says which were applied from /optimize
    risk, source = rig.deps.service.backtest_settings()
    assert risk.tp_atr == new_tp and "applied from /optimize: " in source and f"risk.tp_atr {new_tp}" in source
    # the confirm button works once
    n = len(rig.hub.answers)
    await rig.tap_data(again_ask, second_data)
    assert rig.hub.answers[n].show_alert
    # and /risk still works on top of applied settings
    assert "2.5%" in (await rig.send("/risk 2.5")).plain
    assert engine.settings.risk.risk_pct == Decimal("2.5") and engine.settings.risk.tp_atr == new_tp


async def test_optimize_usage_and_bad_numbers(make_rig: Callable[..., Any]) -> None:
    rig = await _rig(make_rig)
    await rig.tick()
    assert "Usage: /optimize SYMBOL DAYS TRIALS" in (await rig.send(f"/optimize {SYMBOL} 4")).plain
    assert "whole numbers" in (await rig.send(f"/optimize {SYMBOL} 4 many")).plain
    assert "TRIALS must be from 1 to 500" in (await rig.send(f"/optimize {SYMBOL} 4 5000")).plain
    bad = await rig.send("/optimize DOGEUSDT 4 3")  # the exchange has no such candles: a clear failure
    await rig.hub.wait_for(lambda m: m.message_id == bad.message_id and "Optimize failed" in m.plain, timeout=60)
    await rig.send(f"/optimize {SYMBOL} 200 2")  # more days than the exchange has: runs on what exists, says so
    await rig.hub.wait_for(lambda m: "history were available (asked for 200)" in m.plain, timeout=60)
