"""/pnl daily|weekly|monthly [N] and /performance [chart] through the real python-telegram-bot stack, after a signal
trade and a manual one closed on the simulator."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlmodel import select

from storage.db import session_scope
from storage.models import TradeRecord
from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import Rig
from tests.telegram.test_phone import manual_card
from tests.waiting import until


def closed(rig: Rig) -> list[TradeRecord]:
    with session_scope(rig.deps.journal.db) as s:
        return list(s.exec(select(TradeRecord).where(TradeRecord.status == "closed")).all())


async def _cycle(rig: Rig, card) -> None:
    await rig.tap(card, "Approve")
    n = len(closed(rig))
    ask = await rig.send(f"/close {SYMBOL}")
    await rig.tap(ask, f"Close {SYMBOL}")
    await until(lambda: len(closed(rig)) > n, limit=10)


async def test_period_table_and_performance_split_signal_and_manual(rig: Rig, tmp_path: Path) -> None:
    empty = (await rig.send("/performance")).plain
    assert "no closed trades yet" in empty
    await _cycle(rig, await rig.card())  # a signal's trade
    await _cycle(rig, await manual_card(rig, f"/short {SYMBOL}"))  # a manual one
    trades = closed(rig)
    assert sorted(t.origin for t in trades) == ["manual", "signal"]
    net = sum((t.pnl for t in trades), Decimal(0))
    fees = sum((t.entry_fee + t.exit_fee for t in trades), Decimal(0))
    table = (await rig.send("/pnl daily 3")).plain
    assert "PnL daily, last 3 (UTC" in table and "cumul." in table
    day = trades[0].exit_time.date().isoformat()
    [row] = [line for line in table.splitlines() if line.startswith(day)]
    cells = row.split()
    assert cells[1] == "2" and Decimal(cells[2].replace(",", "").replace("+", "")) == net.quantize(Decimal("0.01"))
    assert Decimal(cells[3].replace(",", "")) == fees.quantize(Decimal("0.01"))
    assert Decimal(cells[5].replace(",", "").replace("+", "")) == net.quantize(Decimal("0.01"))  # cumulative
    weekly = (await rig.send("/pnl weekly")).plain
    assert weekly.count("-W") == 4
    assert "2 trade(s)" in (await rig.send("/pnl monthly 2")).plain
    perf = (await rig.send("/performance")).plain
    assert SYMBOL in perf and "manual" in perf and "signal" in perf
    before = {m.message_id for m in rig.hub.sent()}
    rig.hub.push_message(42, "/performance chart")
    photo = await rig.hub.wait_for(lambda m: m.message_id not in before and m.photo is not None, timeout=60)
    assert photo.photo.startswith(b"\x89PNG") and len(photo.photo) > 10_000
    (tmp_path / "equity.png").write_bytes(photo.photo)


async def test_bad_period_arguments_get_the_usage(rig: Rig) -> None:
    for line, expected in (("/pnl daily x", "'x' is not a whole number"), ("/pnl weekly 0", "out of range"),
                           ("/pnl 7d 3", "daily, weekly or monthly only"), ("/performance pie", "is not 'chart'"),
                           ("/pnl hourly", "is not a period")):
        text = (await rig.send(line)).plain
        assert expected in text and "Usage: /" in text, (line, text)
