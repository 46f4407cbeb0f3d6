"""The typed seams: sides parsed at the wire's edge, card payloads, stop history records and the order references
keep the journal's and the wire's forms exactly while the code sees types."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from tradebot.bybit.account_models import ClosedPnl, Execution, Order, Position
from tradebot.bybit.orders import Amend, OrderRef
from tradebot.chat.tokens import Card, CardData
from tradebot.errors import ExchangeError
from tradebot.side import Side
from tradebot.states import StopMove, StopMoveReason

POSITION = {"symbol": "BTCUSDT", "size": "0.01", "avgPrice": "50000", "markPrice": "50010", "leverage": "10"}


@pytest.mark.parametrize(("wire", "side", "open_"), [("Buy", Side.BUY, True), ("Sell", Side.SELL, True),
                                                     ("", None, False), ("None", None, False)])
def test_a_positions_side_is_a_side_or_none_when_flat(wire: str, side: Side | None, open_: bool) -> None:
    pos = Position.from_api({**POSITION, "side": wire})
    assert pos.side is side and pos.is_open is open_
    if open_:
        assert pos.held is side
    else:
        with pytest.raises(ValueError):
            _ = pos.held


def test_a_side_bybit_does_not_send_is_malformed() -> None:
    with pytest.raises(ExchangeError, match="malformed side"):
        Order.from_api({"orderId": "1", "symbol": "BTCUSDT", "side": "Long", "orderStatus": "New", "qty": "1"})
    with pytest.raises(ExchangeError, match="malformed side"):
        Position.from_api({**POSITION, "side": "buy"})
    fill = Execution.from_api({"execId": "x", "symbol": "BTCUSDT", "side": "Sell"})
    assert fill.side is Side.SELL and Execution.from_api({"execId": "y", "symbol": "BTCUSDT"}).side is None
    row = {"symbol": "BTCUSDT", "orderId": "1", "side": "Sell", "avgEntryPrice": "1", "avgExitPrice": "2",
           "closedPnl": "1"}
    assert ClosedPnl.from_api(row).position_side is Side.BUY  # a Sell closes a long


def test_card_payloads_keep_the_journals_form() -> None:
    card = Card(("close", "cancel"), (1, 2), CardData(symbol="BTCUSDT", qty=D("0.005")))
    stored = card.to_json()
    assert stored == {"actions": ["close", "cancel"], "chats": [1, 2], "symbol": "BTCUSDT", "qty": "0.005"}
    assert Card.from_json(stored) == card
    apply = CardData(proposal="p1", step=1)
    assert apply.to_json() == {"proposal": "p1", "step": 1} and CardData.from_json(apply.to_json()) == apply
    assert CardData().to_json() == {}  # a stop-all card acts on nothing
    old = Card.from_json({"action": "close", "symbol": "ETHUSDT"})  # a token issued before cards had actions
    assert old.actions == ("close", "cancel") and old.chats is None and old.data.symbol == "ETHUSDT"


def test_stop_moves_keep_the_stored_history() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    rows = [{"time": now, "sl": D("64000"), "reason": "initial"},
            {"time": now, "sl": D("65000"), "reason": "manual", "by": "@owner"}]
    moves = StopMove.history(rows)
    assert [m.reason for m in moves] == [StopMoveReason.INITIAL, StopMoveReason.MANUAL] and moves[1].by == "@owner"
    assert [m.to_json() for m in moves] == rows
    assert StopMove.history(None) == []


def test_order_references_on_the_wire() -> None:
    ref = OrderRef("BTCUSDT", order_link_id="bot-1")
    assert list(ref.params().items()) == [("category", "linear"), ("symbol", "BTCUSDT"), ("orderId", None),
                                          ("orderLinkId", "bot-1")]
    assert Amend(ref, price=D("50000.50")).body() == {**ref.params(), "qty": None, "price": "50000.5"}
    for kwargs, text in (({"order": OrderRef("BTCUSDT"), "price": D(1)}, "order_id or order_link_id"),
                         ({"order": ref}, "a new qty or price"), ({"order": ref, "qty": D(0)}, "qty must be positive")):
        with pytest.raises(ValueError, match=text):
            Amend(**kwargs)  # type: ignore[arg-type]
