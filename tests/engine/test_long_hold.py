"""Trades held longer than Bybit's 7-day query window close in the journal, with funding, over HTTP (issue 11 §1).

Bybit answers closed-pnl and executions only 7 days per request (position/close-pnl.mdx, order/execution.mdx:
only startTime → [startTime, startTime + 7 days]; endTime − startTime ≤ 7 days). Funding settles at 00:00, 08:00
and 16:00 UTC (market/history-fund-rate.mdx, 8-hour interval) as execType Funding executions (enum.mdx), and
Bybit's closedPnl already includes the opening fee, the closing fee and that funding.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlmodel import select

from proving.sim import BookParams, Simulator
from storage.db import session_scope
from storage.models import TradeRecord
from tests.engine.conftest import KEY, SECRET, SYMBOL, Rig, ema_only
from tests.pinned import OLD_STOPS
from tradebot.events import EntryFilled, PositionClosed
from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
from tradebot.sizing.execution import MARKET_ENTRIES
from tradebot.sizing.risk import RiskParams

HOUR = 3_600_000
T0 = 1_749_999_600_000  # a whole hour (2025-06-15 15:00 UTC)
RATE = Decimal("0.0001")


def rows(days: int) -> list[tuple[int, str, str, str, str, str]]:
    """251 rising hourly candles (a Buy signal), then ``days`` days of quiet candles around the last close."""
    out, prev = [], 50000.0
    for i in range(251):
        close = 50000.0 + 5 * (i + 1)
        out.append((T0 + i * HOUR, f"{prev:.1f}", f"{max(prev, close) + 15:.1f}", f"{min(prev, close) - 15:.1f}",
                    f"{close:.1f}", "10"))
        prev = close
    for j in range(days * 24 + 48):
        out.append((T0 + (251 + j) * HOUR, f"{prev:.1f}", f"{prev + 1:.1f}", f"{prev - 1:.1f}", f"{prev:.1f}", "10"))
    return out


def config() -> Config:
    bot = BotSettings(symbols=[SYMBOL], interval="60", candles=200, mode="auto", unknown_position_wait_seconds=0)
    risk = RiskParams.model_validate({**OLD_STOPS, "trailing_mode": "exchange", "cooldown_minutes": 0})
    return Config(env=EnvSettings(), file=FileConfig(execution=MARKET_ENTRIES, bot=bot, risk=risk, strategy=ema_only()), source="test",
                  demo=True)


@pytest.mark.parametrize("days", [8, 30, 90])
async def test_trade_held_beyond_seven_days_closes_with_funding(days, db):
    sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: rows(days)}, warmup=250, rate_limits=False,
                    book=BookParams.zero(), api_key=KEY, api_secret=SECRET, funding_rate=RATE)
    server = sim.serve()
    rig = Rig(sim, config(), db, server.url)
    try:
        await rig.engine.tick(SYMBOL)
        [fill] = rig.events.of(EntryFilled)
        async with httpx.AsyncClient(base_url=server.url) as ctl:  # the simulator's control API over HTTP
            stepped = (await ctl.post("/sim/step", json={"n": days * 24 + 12}, timeout=60)).json()["stepped"]
            assert stepped == days * 24 + 12
            await ctl.post("/sim/price", json={"symbol": SYMBOL, "price": str(fill.sl - 50)})  # the stop fires
            state = (await ctl.get("/sim/state")).json()
        await rig.engine.tick(SYMBOL)

        [closed_row] = state["closed_pnl"]
        funding = [e for e in state["executions"] if e["execType"] == "Funding"]
        held_ms = int(closed_row["createdTime"]) - int(state["executions"][-1]["execTime"])
        assert held_ms > days * 86_400_000  # really held that long in market time
        assert len(funding) >= days * 3  # every 00:00/08:00/16:00 UTC while open
        assert all(int(e["execTime"]) % (8 * HOUR) == 0 for e in funding)
        paid = sum((Decimal(e["execFee"]) for e in funding), Decimal(0))
        price_pnl = (Decimal(closed_row["avgExitPrice"]) - Decimal(closed_row["avgEntryPrice"])) * Decimal(
            closed_row["closedSize"])
        fees = Decimal(closed_row["openFee"]) + Decimal(closed_row["closeFee"])
        assert Decimal(closed_row["closedPnl"]) == price_pnl - fees - paid  # funding is inside closedPnl

        with session_scope(db) as s:
            first = s.exec(select(TradeRecord).order_by(TradeRecord.id)).first()
            assert first is not None
            assert first.status == "closed", f"a trade held {days} days never closed in the journal"
            assert first.pnl == Decimal(closed_row["closedPnl"])  # net = the exchange's closedPnl, to the cent
            assert first.funding_fee == paid != 0  # funding read across every 7-day window, not 0
            assert first.reason == "stop_loss"
        [event] = rig.events.of(PositionClosed)
        assert event.pnl == Decimal(closed_row["closedPnl"]) and event.funding == paid  # a component, shown
        assert event.fees == fees
    finally:
        await rig.close()
        server.close()
        sim.close()
