"""Every command through the real Application: replies, usage errors, unknown commands, persistence, photo."""

from __future__ import annotations

import re
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
    assert rig.hub.menu(CHAT, CHAT) == [c.name for c in COMMANDS]  # the menu in an owner's chat (test_menus.py)


async def test_unknown_command_and_text_hint(rig: Rig) -> None:
    assert "Unknown command /nope" in (await rig.send("/nope")).plain
    assert "/help" in (await rig.send("hello")).plain


RISK_RANGE = "a number above 0 and at most 10"
SYMBOL_WORDS = "a USDT perpetual like BTCUSDT"


@pytest.mark.parametrize(("line", "expected"), [
    ("/signal", "Usage: /signal SYMBOL — SYMBOL: " + SYMBOL_WORDS),
    ("/chart", "Usage: /chart SYMBOL [interval]"),
    ("/close", "No open positions."),  # no symbol: the open positions as buttons (none here)
    ("/mode", "Usage: /mode auto|confirm — auto (trades on its own) or confirm"),
    ("/mode fast", "'fast' is not a mode. Usage: /mode auto|confirm — auto"),
    ("/risk", "Usage: /risk PCT — PCT: % of the balance risked per trade, " + RISK_RANGE),
    ("/risk abc", "'abc' is not a number. Usage: /risk PCT — PCT: % of the balance risked per trade, " + RISK_RANGE),
    ("/risk 50", "Risk 50% is out of range. Usage: /risk PCT — PCT: % of the balance risked per trade, " + RISK_RANGE),
    ("/risk 0", "Risk 0% is out of range. Usage: /risk PCT"),
    ("/risk 10.01", "Risk 10.01% is out of range."),
    ("/risk nan", "is not a number. Usage: /risk PCT"),
    ("/pnl yesterday", "'yesterday' is not a period. Usage: /pnl [today|7d|30d|all] or daily|weekly|monthly [N] — "
                       "the period: today (default), 7d, 30d or all; or daily, weekly or monthly and N"),
    ("/trades x", "'x' is not a whole number. Usage: /trades [N] — N: how many trades, a whole number from 1 to 100"),
    ("/trades 500", "500 trades is out of range. Usage: /trades [N]"),
    ("/trades 1 2", "Usage: /trades [N]"),
    ("/stop now", "'now' is not 'all'. Usage: /stop [all] — nothing to pause new entries, or 'all'"),
    ("/status now", "Usage: /status — no arguments."),
    ("/signal btc-usd", "'btc-usd' is not a symbol. Usage: /signal SYMBOL — SYMBOL: " + SYMBOL_WORDS),
    ("/signal 12", "Could not compute 12USDT"),
    ("/chart BTC 7", "'7' is not an interval. Usage: /chart SYMBOL [interval] — SYMBOL: " + SYMBOL_WORDS
                     + " (or just BTC); interval in minutes 1 3 5 15 30 60 120 240 360 720, or 1h, 4h, D"),
    ("/close BTCUSDT", "No open BTCUSDT position"),
    ("/close DOGEUSDT", "No open DOGEUSDT position: DOGEUSDT is not traded by this bot (traded: BTCUSDT)."),
    ("/close doge", "DOGEUSDT is not traded by this bot"),
    ("/close $$", "'$$' is not a symbol. Usage: /close [SYMBOL [PCT|QTY]]"),
    ("/backtest BTCUSDT", "Usage: /backtest SYMBOL DAYS — SYMBOL: " + SYMBOL_WORDS + " (or just BTC); DAYS: a whole "
                          "number from 1 to 365."),
    ("/backtest BTCUSDT many", "DAYS must be a whole number, not 'many'. Usage: /backtest SYMBOL DAYS"),
    ("/backtest BTCUSDT 0", "0 days is out of range. Usage: /backtest SYMBOL DAYS"),
])
async def test_usage_errors_are_one_line(rig: Rig, line: str, expected: str) -> None:
    reply = (await rig.send(line)).plain
    assert expected in reply and "\n" not in reply
    [row] = [a for a in await rig.audited() if a.action == f"/{line.split()[0][1:]}"]
    assert row.allowed and row.result.startswith("refused")
    await rig.hub.wait_idle(quiet=0.1)
    assert not [m for m in rig.hub.sent(CHAT) if "went wrong" in m.plain or "Error" in m.plain]  # no error report


async def test_views_when_flat(rig: Rig) -> None:
    await rig.tick()
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


async def test_mode_risk_stop_resume_persist(rig: Rig) -> None:
    engine = rig.deps.engine
    assert "Mode set to auto" in (await rig.send("/mode auto")).plain
    assert engine.settings.mode == "auto"
    assert "2.5%" in (await rig.send("/risk 2.5")).plain
    assert engine.settings.risk.risk_pct == Decimal("2.5")
    assert "Paused" in (await rig.send("/stop")).plain and engine.settings.paused
    assert "PAUSED" in (await rig.send("/status")).plain
    assert "Resumed" in (await rig.send("/resume")).plain and not engine.settings.paused
    assert "Already running" in (await rig.send("/resume")).plain


async def test_stop_and_resume_answer_once_in_the_asking_chat(rig: Rig) -> None:
    other = CHAT + 1  # a second allowed chat learns about it through the alert
    rig.deps.cfg.env.TELEGRAM_ALLOWED_CHAT_IDS.append(other)
    assert rig.deps.chats == [CHAT, other]
    for command, word in (("/stop", "Paused"), ("/resume", "Resumed")):
        replies = await rig.replies(command)
        await rig.hub.wait_for(lambda m, w=word: m.chat_id == other and m.plain.startswith(f"ℹ️ {w} by @user42"))
        await rig.hub.wait_idle(quiet=0.3)
        mine = [m.plain for m in rig.hub.sent(CHAT) if word in m.plain]
        assert len(replies) == 1 and len(mine) == 1 and mine[0].startswith(word), mine


async def test_signal_shows_breakdown(rig: Rig) -> None:
    text = (await rig.send("/signal btc")).plain
    assert text.startswith(f"{SYMBOL} BUY") and "Breakdown" in text
    assert "• EMA 5 − EMA 20 = +37.50 USDT → 1 × +1.00 = +1.00" in text  # names, plain values, units


async def test_chart_sends_png(rig: Rig) -> None:
    card = await rig.card()
    await rig.tap(card, "Approve")
    rig.hub.push_message(CHAT, f"/chart {SYMBOL}")  # drawn in the heavy queue's worker process (started now)
    photo = await rig.hub.wait_for(lambda m: m.photo is not None, timeout=30)
    assert photo.photo.startswith(b"\x89PNG") and len(photo.photo) > 10_000
    assert SYMBOL in photo.plain
    assert "is not an interval" in (await rig.send(f"/chart {SYMBOL} 7")).plain


async def test_positions_trades_and_pnl_after_a_trade(rig: Rig) -> None:
    card = await rig.card()
    assert "Liquidation ≈ " in card.plain and "(estimate, cross margin)" in card.plain
    await rig.tap(card, "Approve")
    text = (await rig.send("/positions")).plain
    assert "Open positions (1)" in text and "BTCUSDT LONG" in text and "SL " in text and "trailing:" in text
    shown = re.search(r"Liquidation ([\d,.]+) \(the exchange's figure\)", text)  # the simulator gives liqPrice
    estimate = re.search(r"Liquidation ≈ ([\d,.]+) \(estimate", card.plain)
    assert shown and estimate, (text, card.plain)
    exchange, ours = (Decimal(m.group(1).replace(",", "")) for m in (shown, estimate))
    assert abs(ours - exchange) <= Decimal("0.0005") * exchange, (ours, exchange)  # one consistent rule
    assert "% of margin (" in text and "% of notional" in text
    ask = await rig.send(f"/close {SYMBOL}")
    assert "Close BTCUSDT" in ask.plain
    await rig.tap(ask, f"Close {SYMBOL}")
    assert "closed" in ask.plain
    await rig.tick()  # journals the close from the exchange's closed-pnl
    assert "(closed manually)" in (await rig.send("/trades 5")).plain or "manual" in (await rig.send("/trades")).plain
    pnl = (await rig.send("/pnl all")).plain  # the simulator replays 2025 candles: "today" is empty
    assert "Trades 1" in pnl and "Per symbol" in pnl and "Funding" in pnl


async def test_backtest_uses_the_live_risk_setting(rig: Rig) -> None:
    """/backtest runs with /risk's persisted value, says so, and lists the settings and funding apart."""
    await rig.tick()
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
    import tradebot.chat.service as service
    from tradebot.backtest.remote import BacktestReport

    pauses = "\n".join(f"  2025-01-{1 + k % 28:02d} 00:00 → 2025-01-02 00:00: cooling down ({k} skipped)"
                       for k in range(300))
    summary = f"Net PnL 1.00 USDT\nSettings: 5m candles\nProtections paused entries 300 time(s):\n{pauses}"

    async def fake(*args: object, **kw: object) -> BacktestReport:
        return BacktestReport(summary, b"\x89PNG\r\n\x1a\nfake", 0)

    monkeypatch.setattr(service, "backtest_recent", fake)
    await rig.tick()
    await rig.send("/backtest BTCUSDT 2")
    doc = await rig.hub.wait_for(lambda m: m.document is not None, timeout=30)
    assert doc.document is not None and doc.document.data.decode() == summary
    assert doc.document.filename == "backtest_BTCUSDT_2d.txt"
    text = [m for m in rig.hub.sent(CHAT) if m.plain.startswith("Settings:")]
    assert text and "attached file" in text[0].plain and len(text[0].plain) < 4096


async def test_status_says_why_the_last_signal_was_not_traded(make_rig) -> None:
    """A sizing refusal (minimum order, fees over max_fee_share) is said in the signal's message; with signal alerts
    switched off that message never comes, so /status says it too, until a signal is sized again."""
    from proving.sim import BookParams, Simulator
    from tests.engine.conftest import KEY, SECRET, trend_rows

    sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: trend_rows(300)}, warmup=250, rate_limits=False,
                    book=BookParams.zero(), api_key=KEY, api_secret=SECRET, balance=Decimal("2"))
    rig = await make_rig(sim=sim)
    await rig.hub.wait_for(lambda m: "Started" in m.plain)
    await rig.tick()
    status = (await rig.send("/status")).plain
    line = next(x for x in status.splitlines() if "not traded" in x)
    assert line.startswith("  ↳ not traded: BUY signal of the ") and "UTC bar: " in line, status
    assert "minimum" in line, line
    assert rig.deps.engine.refusals[SYMBOL] in line
    sim.exchange.wallet += Decimal("10000")  # the balance is back: the next signal is sized and the note goes
    rig.sim.step(1)
    await rig.tick()
    assert SYMBOL not in rig.deps.engine.refusals
    assert "not traded" not in (await rig.send("/status")).plain
