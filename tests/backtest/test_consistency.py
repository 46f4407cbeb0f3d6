"""Live engine (auto mode) against the in-process simulator vs the backtest on the same candles: same trades."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from proving.sim import BookParams, Simulator
from storage.db import session_scope
from storage.journal import Journal
from storage.models import TradeRecord
from tests.engine.conftest import KEY, SECRET, SYMBOL, ema_only
from tests.journals import journal
from tradebot.backtest import run_backtest
from tradebot.bybit.client import BybitClient, RetryPolicy
from tradebot.market import frame_from_rows, ms_to_datetime
from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
from tradebot.sizing.execution import MARKET_ENTRIES
from tradebot.sizing.risk import RiskParams
from tradebot.tick.engine import TradingEngine

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "BTCUSDT_5m.csv"
WARMUP = 1100  # closed candles before the first tick: the live 1000-candle window then equals full history
STEPS = 350
BOOK = BookParams(level_notional=Decimal("20000"))  # thin book: entries and stops walk several levels


def rows() -> list[list[str]]:
    with SAMPLE.open() as fh:
        return list(csv.reader(fh))[1:][: WARMUP + STEPS + 1]


@pytest.mark.parametrize("trailing", ["exchange", pytest.param("bot", marks=pytest.mark.slow)])
async def test_live_engine_and_backtest_make_the_same_trades(tmp_path: Path, trailing: str) -> None:
    data = rows()
    risk = RiskParams(trailing_mode=trailing, breakeven_trigger_atr=Decimal("0.8"), trail_trigger_atr=Decimal("1.2"),
                      trail_atr=Decimal("0.8"), cooldown_minutes=20, max_consecutive_losses=4)
    bot = BotSettings(symbols=[SYMBOL], interval="5", candles=1000, mode="auto")
    cfg = Config(env=EnvSettings(), file=FileConfig(execution=MARKET_ENTRIES, bot=bot, risk=risk, strategy=ema_only(threshold=1.0)),
                 source="test", demo=True)
    sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: data}, warmup=WARMUP, rate_limits=False, book=BOOK,
                    api_key=KEY, api_secret=SECRET, balance=Decimal("10000"))
    client = BybitClient("http://sim.local", KEY, SECRET, transport=sim.transport(),
                         retry=RetryPolicy(attempts=2, base_delay=0.0))
    with journal("sqlite-memory", tmp_path) as db:
        engine = TradingEngine(cfg, client, Journal(db), clock=lambda: ms_to_datetime(sim.market_time()))
        try:
            while True:
                status = await engine.tick(SYMBOL)
                assert status.ok, status.error
                if not sim.step(1):
                    break
        finally:
            await client.aclose()
            sim.close()
        with session_scope(db) as s:
            live = [t for t in s.exec(select(TradeRecord)).all() if t.exit_time is not None]
            live_rows = [(t.side, t.entry_time, t.entry_price, t.qty, t.exit_time, t.exit_price, t.pnl, t.reason)
                         for t in sorted(live, key=lambda t: t.entry_time)]

    df = frame_from_rows([r[0], *r[1:6]] for r in data)
    last_tick = ms_to_datetime(int(data[-1][0]))
    res = run_backtest(df, cfg, SYMBOL, Decimal("10000"), start=df.index[WARMUP], book_params=BOOK, verify=True)
    assert res.replay == "ticks"  # the fast integer replay is the one judged (both trailing modes)
    ours = [(t.side, t.entry_time, t.entry_price, t.qty, t.exit_time, t.exit_price, t.pnl, t.reason)
            for t in res.trades if t.exit_time <= last_tick]
    assert len(live_rows) >= 8 and {r[-1] for r in live_rows} >= {"stop_loss", "trailing_stop"}
    assert [(*r[:4], r[4].replace(tzinfo=None), *r[5:]) for r in ours] == \
        [(*r[:4], r[4].replace(tzinfo=None), *r[5:]) for r in live_rows]
