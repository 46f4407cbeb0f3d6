"""Every command through the real Application: replies, usage errors, unknown commands, persistence, photo."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handlers.commands import COMMANDS
from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import CHAT, Rig


async def test_help_and_start_list_every_command(rig: Rig) -> None:
    for cmd in ("/help", "/start"):
        text = (await rig.send(cmd)).plain
        assert "paper" in text or "simulator" in text
        assert SYMBOL in text and "Mode: confirm" in text
        for c in COMMANDS:
            assert f"/{c.name}" in text, c.name
    assert {c["command"] for c in rig.hub.commands} == {c.name for c in COMMANDS}


async def test_unknown_command_and_text_hint(rig: Rig) -> None:
    assert "Unknown command /nope" in (await rig.send("/nope")).plain
    assert "/help" in (await rig.send("hello")).plain


@pytest.mark.parametrize(("line", "expected"), [
    ("/signal", "Usage: /signal SYMBOL"),
    ("/chart", "Usage: /chart SYMBOL [interval]"),
    ("/close", "Usage: /close SYMBOL"),
    ("/mode", "Usage: /mode auto|confirm"),
    ("/mode fast", "Mode must be auto or confirm"),
    ("/risk", "Usage: /risk PCT"),
    ("/risk abc", "is not a number"),
    ("/risk 50", "refused"),
    ("/pnl yesterday", "Period must be one of today, 7d, 30d, all"),
    ("/trades x", "N must be a whole number"),
    ("/trades 1 2", "Usage: /trades [N]"),
    ("/stop now", "Usage: /stop [all]"),
    ("/signal btc-usd", "is not a symbol"),
    ("/signal 12", "Could not compute 12USDT"),
    ("/close BTCUSDT", "No open BTCUSDT position"),
    ("/close DOGEUSDT", "No open DOGEUSDT position: DOGEUSDT is not traded by this bot (traded: BTCUSDT)."),
    ("/close doge", "DOGEUSDT is not traded by this bot"),
    ("/backtest BTCUSDT", "Usage: /backtest SYMBOL DAYS"),
])
async def test_usage_errors_are_one_line(rig: Rig, line: str, expected: str) -> None:
    reply = (await rig.send(line)).plain
    assert expected in reply and "\n" not in reply
    [row] = [a for a in rig.audit() if a.action == f"/{line.split()[0][1:]}"]
    assert row.allowed and row.result.startswith("refused")
    await rig.hub.wait_idle(quiet=0.1)
    assert not [m for m in rig.hub.sent(CHAT) if "went wrong" in m.plain or "Error" in m.plain]  # no error report


async def test_views_when_flat(rig: Rig) -> None:
    await rig.deps.engine.tick(SYMBOL)
    status = (await rig.send("/status")).plain
    assert "running" in status and f"{SYMBOL}: last tick" in status and "score" in status
    assert "Open positions: 0" in status and "Today: PnL 0.00 USDT" in status and "Protections: none" in status
    assert (await rig.send("/positions")).plain == "No open positions."
    assert "no closed trades" in (await rig.send("/pnl")).plain
    assert "no closed trades" in (await rig.send("/pnl all")).plain
    balance = (await rig.send("/balance")).plain
    assert "Equity 10,000.00" in balance and "Available" in balance and "margin in use" in balance
    assert (await rig.send("/trades")).plain == "No closed trades yet."
    assert "Backtesting BTCUSDT" in (await rig.send("/backtest BTCUSDT 2")).plain
    result = await rig.hub.wait_for(lambda m: m.photo is not None or "Backtest failed" in m.plain, timeout=30)
    assert result.photo and result.photo.startswith(b"\x89PNG") and "Net PnL" in (result.caption or "")
    assert "DAYS must be" in (await rig.send("/backtest BTCUSDT many")).plain


async def test_mode_risk_stop_resume_persist(rig: Rig) -> None:
    engine = rig.deps.engine
    assert "Mode set to auto" in (await rig.send("/mode auto")).plain
    assert engine.mode == "auto"
    assert "2.5%" in (await rig.send("/risk 2.5")).plain
    assert engine.risk.risk_pct == Decimal("2.5")
    assert "Paused" in (await rig.send("/stop")).plain and engine.paused
    assert "PAUSED" in (await rig.send("/status")).plain
    assert "Resumed" in (await rig.send("/resume")).plain and not engine.paused
    assert "Already running" in (await rig.send("/resume")).plain
    await rig.hub.wait_for(lambda m: m.plain.startswith("ℹ️ Paused by @user42"))  # the Lifecycle alert
    await rig.hub.wait_for(lambda m: m.plain.startswith("ℹ️ Resumed by @user42"))


async def test_signal_shows_breakdown(rig: Rig) -> None:
    text = (await rig.send("/signal btc")).plain
    assert text.startswith(f"{SYMBOL} BUY") and "Breakdown" in text and "ema" in text


async def test_chart_sends_png(rig: Rig) -> None:
    card = await rig.card()
    await rig.tap(card, "Approve")
    replies = await rig.replies(f"/chart {SYMBOL}")
    [photo] = [m for m in replies if m.photo is not None]
    assert photo.photo.startswith(b"\x89PNG") and len(photo.photo) > 10_000
    assert SYMBOL in photo.plain
    assert "Interval must be" in (await rig.send(f"/chart {SYMBOL} 7")).plain


async def test_positions_trades_and_pnl_after_a_trade(rig: Rig) -> None:
    card = await rig.card()
    await rig.tap(card, "Approve")
    text = (await rig.send("/positions")).plain
    assert "Open positions (1)" in text and "BTCUSDT LONG" in text and "SL " in text and "trailing:" in text
    ask = await rig.send(f"/close {SYMBOL}")
    assert "Close BTCUSDT" in ask.plain
    await rig.tap(ask, f"Close {SYMBOL}")
    assert "closed" in ask.plain
    await rig.deps.engine.tick(SYMBOL)  # journals the close from the exchange's closed-pnl
    assert "(closed manually)" in (await rig.send("/trades 5")).plain or "manual" in (await rig.send("/trades")).plain
    pnl = (await rig.send("/pnl all")).plain  # the simulator replays 2025 candles: "today" is empty
    assert "Trades 1" in pnl and "Per symbol" in pnl and "Funding" in pnl


async def test_backtest_uses_the_live_risk_setting(rig: Rig) -> None:
    """/backtest runs with /risk's persisted value, says so, and lists the settings and funding apart."""
    await rig.deps.engine.tick(SYMBOL)
    assert "2.5%" in (await rig.send("/risk 2.5")).plain
    assert "Backtesting BTCUSDT" in (await rig.send("/backtest BTCUSDT 2")).plain
    photo = await rig.hub.wait_for(lambda m: m.photo is not None or "Backtest failed" in m.plain, timeout=30)
    assert photo.photo and "Net PnL" in (photo.caption or "")
    details = await rig.hub.wait_for(lambda m: m.plain.startswith("Settings:"), timeout=30)
    assert "risk 2.5% of balance per trade after fees" in details.plain
    assert f"/risk 2.5%, config {rig.deps.cfg.risk.risk_pct}%" in details.plain
    assert "Changed from defaults:" in details.plain and "Funding:" in details.plain


async def test_backtest_with_many_pauses_attaches_the_full_report(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pause is listed: past one message the start goes to the chat and the whole report as a file."""
    import handlers.commands as commands
    from tradebot.backtest.remote import BacktestReport

    pauses = "\n".join(f"  2025-01-{1 + k % 28:02d} 00:00 → 2025-01-02 00:00: cooling down ({k} skipped)"
                       for k in range(300))
    summary = f"Net PnL 1.00 USDT\nSettings: 5m candles\nProtections paused entries 300 time(s):\n{pauses}"

    async def fake(*args: object, **kw: object) -> BacktestReport:
        return BacktestReport(summary, b"\x89PNG\r\n\x1a\nfake", 0)

    monkeypatch.setattr(commands, "backtest_recent", fake)
    await rig.deps.engine.tick(SYMBOL)
    await rig.send("/backtest BTCUSDT 2")
    doc = await rig.hub.wait_for(lambda m: m.document is not None, timeout=30)
    assert doc.document is not None and doc.document.data.decode() == summary
    assert doc.document.filename == "backtest_BTCUSDT_2d.txt"
    text = [m for m in rig.hub.sent(CHAT) if m.plain.startswith("Settings:")]
    assert text and "attached file" in text[0].plain and len(text[0].plain) < 4096
