"""The /close question's net result is what the close books (issue 21: it showed "unrealised −4.67" and the close
booked −48.01, fees 45.76)."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlmodel import select

from storage.db import session_scope
from storage.models import TradeRecord
from tests.telegram.conftest import Rig


async def test_close_question_net_matches_the_booked_close(rig: Rig) -> None:
    card = await rig.card()
    await rig.tap(card, "Approve")
    ask = await rig.send("/close BTCUSDT")
    text = ask.plain
    assert "exit fee ≈ " in text and "entry fee " in text
    net = re.search(r"Net ≈ ([-+][\d,.]+) USDT", text)
    assert net, text
    shown = Decimal(net.group(1).replace(",", ""))
    await rig.tap(ask, "Close BTCUSDT")
    await rig.tick()  # journals the close from the exchange's closed PnL
    with session_scope(rig.deps.journal.db) as s:
        [trade] = s.exec(select(TradeRecord)).all()
        booked = trade.pnl
    assert booked is not None and booked < 0
    # the same market and fees: within a tick or two of the fill (0.1 × ~0.84 BTC); the fees alone are ~47
    assert abs(booked - shown) <= Decimal("0.2"), (shown, booked, text)
