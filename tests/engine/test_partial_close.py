"""A trade reduced on the exchange before it closes is journaled whole (issue 19, bug 1).

A position can shrink without the bot: reduced by hand on the website, partly liquidated, auto-deleveraged. Each
reduction is its own closed-pnl row (position/close-pnl.mdx: one row per closing order, ``closedSize`` of it) and
Bybit's closedPnl of each row already nets its share of the opening fee, its closing fee and the funding paid.
The journal's trade must end with all of them: net PnL = Σ the rows' closedPnl to the cent, exit qty = the whole
qty opened, exit price their size-weighted average, and the reason from the executions that closed the rest.
"""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from proving.sim import BookParams, Simulator
from storage.db import session_scope
from storage.models import TradeRecord
from storage.types import to_money
from tests.engine.conftest import KEY, SECRET, SYMBOL, Rig, ema_only
from tests.engine.test_long_hold import rows
from tests.pinned import OLD_STOPS
from tradebot.events import EntryFilled, PositionClosed
from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
from tradebot.sizing.execution import MARKET_ENTRIES
from tradebot.sizing.risk import RiskParams
from tradebot.tick.gate import BlockKind

HOUR_CANDLES = 24
REDUCE_SHARE = Decimal("0.6")  # the case: 0.503 of 0.839 reduced by hand


def config() -> Config:
    """Auto mode, Bybit's trailing stop (waiting for its activation price), a 0.5% daily loss limit."""
    bot = BotSettings(symbols=[SYMBOL], interval="60", candles=200, mode="auto", unknown_position_wait_seconds=0)
    risk = RiskParams.model_validate({**OLD_STOPS, "trailing_mode": "exchange", "cooldown_minutes": 0,
                                      "daily_loss_limit_pct": "0.5"})
    return Config(env=EnvSettings(), file=FileConfig(execution=MARKET_ENTRIES, bot=bot, risk=risk, strategy=ema_only()), source="test",
                  demo=True)


def _trade(db) -> TradeRecord:
    with session_scope(db) as s:
        [t] = s.exec(select(TradeRecord)).all()
        s.expunge(t)
        return t


def _sim(days: int) -> Simulator:
    return Simulator(symbols=[SYMBOL], candles={SYMBOL: rows(days)}, warmup=250, rate_limits=False,
                     book=BookParams.zero(), api_key=KEY, api_secret=SECRET, funding_rate=Decimal("0.0001"))


async def _reduce_by_hand(rig: Rig, fill: EntryFilled) -> Decimal:
    """A reduce-only market sell from the website (no orderLinkId of the bot's): ~60% of the position."""
    step = Decimal("0.001")
    part = (fill.qty * REDUCE_SHARE / step).to_integral_value() * step
    await rig.client.place_order(symbol=SYMBOL, side="Sell", qty=part, order_link_id="web-reduce", reduce_only=True)
    return part


def _assert_whole(rig: Rig, db, fill: EntryFilled) -> Decimal:
    state = rig.sim.state()
    exchange_pnl = sum((Decimal(r["closedPnl"]) for r in state["closed_pnl"]), Decimal(0))
    assert len(state["closed_pnl"]) == 2
    t = _trade(db)
    assert t.status == "closed"
    assert t.pnl == exchange_pnl, f"journal {t.pnl} vs exchange closedPnl {exchange_pnl}"
    assert t.reason == "stop_loss"  # the stop took the rest: not "manual" (the hand reduction came first)
    assert t.exit_qty == fill.qty  # the whole qty opened
    sizes = [(Decimal(r["closedSize"]), Decimal(r["avgExitPrice"])) for r in state["closed_pnl"]]
    assert t.exit_price == to_money(sum((q * p for q, p in sizes), Decimal(0)) / fill.qty)  # as the journal keeps it
    assert t.exit_fee == sum((Decimal(r["closeFee"]) for r in state["closed_pnl"]), Decimal(0))
    assert t.entry_fee == sum((Decimal(r["openFee"]) for r in state["closed_pnl"]), Decimal(0))
    [event] = rig.events.of(PositionClosed)
    assert (event.pnl, event.qty, event.reason) == (exchange_pnl, fill.qty, "stop_loss")
    return exchange_pnl


async def test_reduced_by_hand_on_day_1_stopped_on_day_20_is_journaled_whole(db):
    """Long ~0.839: ~0.503 sold by hand on day 1, the stop-loss takes the remaining ~0.336 on day 20 (past 7 days:
    the two rows are in different closed-pnl windows)."""
    sim = _sim(21)
    rig = Rig(sim, config(), db)
    try:
        await rig.engine.tick(SYMBOL)
        [fill] = rig.events.of(EntryFilled)
        sim.step(HOUR_CANDLES)
        part = await _reduce_by_hand(rig, fill)
        await rig.engine.tick(SYMBOL)
        assert _trade(db).status == "open" and _trade(db).qty == fill.qty - part  # still managed: the rest
        sim.step(19 * HOUR_CANDLES)
        sim.set_price(SYMBOL, fill.sl - 50)  # the stop-loss fires on day 20
        await rig.engine.tick(SYMBOL)
        pnl = _assert_whole(rig, db, fill)
        # the whole loss counts toward today's limit (0.5% of ~10k ≈ 50 USDT: the stop's row alone is below it)
        block = await rig.engine.gate.block(SYMBOL, rig.engine.market.now_for(SYMBOL))
        assert block is not None and block.kind is BlockKind.PROTECTION
        assert f"lost {-pnl.quantize(Decimal('0.01'))} USDT today" in block.text
    finally:
        await rig.close()
        sim.close()


async def test_stop_row_lagging_the_position_is_waited_for(db):
    """Inside 7 days: ~0.503 sold by hand, then the stop takes the rest while its closed-pnl row lags the position
    (the position is flat, only the hand reduction's row is listed): nothing is journaled until the stop's row
    shows, then the whole trade is."""
    sim = _sim(3)
    rig = Rig(sim, config(), db)
    try:
        await rig.engine.tick(SYMBOL)
        [fill] = rig.events.of(EntryFilled)
        await _reduce_by_hand(rig, fill)
        await rig.engine.tick(SYMBOL)
        sim.faults.configure(closed_pnl_lag_ms=600_000)  # the stop's row lags
        sim.set_price(SYMBOL, fill.sl - 50)
        assert rig.position() is None
        for _ in range(3):
            await rig.engine.tick(SYMBOL)
        assert _trade(db).status == "open" and not rig.events.of(PositionClosed)  # a part is not the close
        sim.faults.configure()  # the row shows
        await rig.engine.tick(SYMBOL)
        _assert_whole(rig, db, fill)
    finally:
        await rig.close()
        sim.close()
