"""Chaos: ≥100 trade cycles (CI) / ≥1,000 (slow) over HTTP with ≥10 % of requests faulted; books must agree."""

from __future__ import annotations

import pytest

from tests.reliability.audit import CENT
from tests.reliability.chaos import ChaosRun
from tests.reliability.stream_chaos import StreamChaosRun

CI_TRADES = 100
LONG_TRADES = 1000


def check(fig) -> None:  # noqa: ANN001
    print("\n" + "\n".join(f"  {line}" for line in fig.lines()))
    a = fig.audit
    assert fig.ticks_returned == fig.ticks, "the loop died"
    assert a.trades_closed >= fig.trades_target, "not enough trade cycles"
    assert fig.fault_rate >= 0.10, f"fault rate {fig.fault_rate:.1%} below 10 %"
    assert a.duplicate_entries == 0 and a.entries_without_approval == 0
    assert not fig.unprotected_after_tick, fig.unprotected_after_tick[:5]
    assert a.journal_pnl.quantize(CENT) == a.sim_pnl.quantize(CENT), "journal PnL != exchange closed PnL"
    assert a.closes_unjournaled == 0 and a.closes_journaled_twice == 0
    assert not a.reason_mismatches, a.reason_mismatches[:5]
    assert not fig.problems, fig.problems


async def test_chaos_short(tmp_path):
    fig = await ChaosRun(CI_TRADES, db_path=tmp_path / "journal.db", seed=1).run()
    check(fig)


@pytest.mark.slow
async def test_chaos_long(tmp_path):
    fig = await ChaosRun(LONG_TRADES, db_path=tmp_path / "journal.db", seed=2).run()
    check(fig)


STREAM_CI_TRADES = 40


async def test_stream_chaos_short(tmp_path):
    """Streams dropped mid-trade, messages lost and delayed, streams down for 25 market minutes every 12 bars."""
    run = StreamChaosRun(STREAM_CI_TRADES, db_path=tmp_path / "journal.db", seed=3)
    fig = await run.run()
    print("\n" + "\n".join(f"  {line}" for line in run.stream_lines()))
    check(fig)
    assert run.sfig.down_windows >= 2 and run.sfig.reconnects >= 2 and run.sfig.stream_events > 0
    assert run.sfig.duplicate_close_alerts == 0 and run.sfig.duplicate_fill_alerts == 0


@pytest.mark.slow
async def test_stream_chaos_long(tmp_path):
    run = StreamChaosRun(LONG_TRADES, db_path=tmp_path / "journal.db", seed=4)
    fig = await run.run()
    print("\n" + "\n".join(f"  {line}" for line in run.stream_lines()))
    check(fig)
    assert run.sfig.duplicate_close_alerts == 0 and run.sfig.duplicate_fill_alerts == 0
