"""Funding in backtests (hand-computed charges), the simulator's funding-history endpoint with our client and
pybit, and `download` caching the history next to the candles."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pybit.unified_trading import HTTP

from tests.backtest.helpers import STEP, T0, quiet_risk, run
from tests.backtest.test_download import START, sim_at
from tests.sim.helpers import KEY, SECRET, make_sim
from tradebot.backtest.download import download
from tradebot.backtest.funding import fetch_funding, funding_path, load_funding, read_funding
from tradebot.backtest.report import render_summary
from tradebot.bybit.client import BybitClient

FLAT = (10000.0, 10010.0, 9990.0, 10000.0)
UP = [FLAT, (10000, 10050, 9950, 10040), (10040, 10320, 10030, 10310), (10310, 10320, 10300, 10310)]
DOWN = [FLAT, (10000, 10050, 9950, 9960), (9960, 9970, 9680, 9690), (9690, 9700, 9680, 9690)]
QTY = Decimal("0.613")  # 100 USDT risk after fees over the 150 stop (test_rules.QTY), long or short
H8 = 8 * 3_600_000


@pytest.mark.parametrize("mode", ["exchange", "bot"])  # the Decimal replay and the integer-tick replay
def test_a_long_pays_a_positive_rate_at_the_settlements_it_holds(mode: str) -> None:
    rates = [(T0 + STEP, Decimal("0.0003")),  # the entry tick itself: opened after the snapshot, not charged
             (T0 + 2 * STEP, Decimal("0.0001")),  # held: 0.613 × 10040 (the bar's open) × 0.0001
             (T0 + 3 * STEP, Decimal("0.0005"))]  # after the take-profit: not charged
    res = run(UP, {0: "BUY"}, risk=quiet_risk(trailing_mode=mode), funding=rates)
    (t,) = res.trades
    assert res.replay == "ticks"
    assert t.reason == "take_profit" and t.qty == QTY
    assert t.funding == Decimal("0.615452")
    assert t.pnl == Decimal("183.9") - Decimal("0.615452")  # fee 0: gross minus funding, like closed PnL
    assert res.final_balance == Decimal(10000) + t.pnl
    assert (res.funding_included, res.funding_paid, res.funding_settlements) == (True, Decimal("0.615452"), 1)
    assert "Funding: 0.62 USDT paid at 1 settlement(s)" in render_summary(res)


def test_a_short_receives_a_positive_rate_and_pays_a_negative_one() -> None:
    rates = [(T0 + 2 * STEP, Decimal("0.0001")), (T0 + 2 * STEP + STEP // 3, Decimal("-0.0002"))]
    res = run(DOWN, {0: "SELL"}, funding=rates)
    (t,) = res.trades
    assert t.side == "Sell" and t.exit_time > res.trades[0].entry_time
    # 0.613 × 9960 × 0.0001 = 0.610548 received, then 0.613 × 9960 × 0.0002 = 1.221096 paid (bar 2's open)
    assert t.funding == Decimal("-0.610548") + Decimal("1.221096") == Decimal("0.610548")
    assert t.pnl == t.gross - t.fees - t.funding


def test_a_stop_at_the_settlement_instant_still_pays_it() -> None:
    """A gap through the stop fills at the bar's open, i.e. at the settlement time: the position was held."""
    rows = [FLAT, (10000, 10050, 9950, 10000), (9700, 9710, 9690, 9700)]
    res = run(rows, {0: "BUY"}, funding=[(T0 + 2 * STEP, Decimal("0.001"))])
    (t,) = res.trades
    assert t.exit_point == 0 and t.exit_time.timestamp() * 1000 == T0 + 2 * STEP
    assert t.funding == QTY * Decimal("9700.0") * Decimal("0.001")


def test_without_history_the_report_says_funding_is_not_included() -> None:
    res = run(UP, {0: "BUY"})
    assert not res.funding_included and res.trades[0].funding == 0
    assert "Funding: not included" in render_summary(res)


async def test_client_pages_the_simulator_history_by_end_time() -> None:
    sim = sim_at(2400)  # 2400 × 5m candles = 200 h → 25 settlements (a new one every 8 h of market time)
    sim.funding_rate = Decimal("0.0001")
    async with BybitClient("http://sim", transport=sim.transport()) as client:
        now = sim.market_time()
        page = await client.funding_history("BTCUSDT", end_ms=now, limit=10)
        assert len(page) == 10 and [f.time_ms for f in page] == sorted(f.time_ms for f in page)
        assert page[-1].time_ms == now // H8 * H8 and {f.rate for f in page} == {Decimal("0.0001")}
        rows, requests = await fetch_funding(client, "BTCUSDT", START, now)
        with pytest.raises(ValueError):
            await client.funding_history("BTCUSDT", start_ms=START)
    first = -(-START // H8) * H8
    assert sorted(rows) == list(range(first, now // H8 * H8 + 1, H8)) and requests == 1
async def test_fetch_pages_past_200_rows() -> None:
    sim = sim_at(2400)
    async with BybitClient("http://sim", transport=sim.transport()) as client:
        import tradebot.backtest.funding as funding

        old, funding.PAGE = funding.PAGE, 7
        try:
            rows, requests = await fetch_funding(client, "BTCUSDT", START, sim.market_time())
        finally:
            funding.PAGE = old
    assert len(rows) == 25 and requests == 4  # 7 + 7 + 7 + 4 (a short page ends it)


async def test_download_caches_the_funding_history_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "BTCUSDT_5.csv"
    sim = sim_at(2400)
    sim.funding_rate = Decimal("0.0001")
    rep = await download("BTCUSDT", "5", 30, out, "http://sim", progress=False, transport=sim.transport())
    assert rep.funding is not None and rep.funding.path == funding_path("BTCUSDT", tmp_path)
    assert rep.funding.fetched == rep.funding.total == 25
    assert set(read_funding(rep.funding.path).values()) == {"0.0001"}
    sim.step(96)  # 8 h more of 5m candles: one new settlement
    rep2 = await download("BTCUSDT", "5", 30, out, "http://sim", progress=False, transport=sim.transport())
    assert rep2.funding is not None and (rep2.funding.fetched, rep2.funding.total) == (1, 26)
    rows = load_funding(rep2.funding.path)
    assert [t for t, _ in rows] == sorted(t for t, _ in rows) and rows[0][1] == Decimal("0.0001")


def test_pybit_reads_the_simulator_funding_history() -> None:
    sim = make_sim(funding_rate=Decimal("0.0001"))
    with sim.serve("127.0.0.1", 0) as server:
        s = HTTP(api_key=KEY, api_secret=SECRET, timeout=5, max_retries=1)
        s.endpoint = server.url
        res = s.get_funding_rate_history(category="linear", symbol="BTCUSDT", limit=5)
        assert res["retCode"] == 0
        rows = res["result"]["list"]
        assert rows and set(rows[0]) == {"symbol", "fundingRate", "fundingRateTimestamp"}
        assert rows[0]["fundingRate"] == "0.0001" and int(rows[0]["fundingRateTimestamp"]) % H8 == 0
        with httpx.Client(base_url=server.url) as raw:  # startTime alone is refused, as documented
            body = raw.get("/v5/market/funding/history",
                           params={"category": "linear", "symbol": "BTCUSDT", "startTime": "1"}).json()
            assert body["retCode"] == 10001
