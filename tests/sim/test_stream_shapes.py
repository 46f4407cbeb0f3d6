"""Simulator stream messages have the fields and JSON types of the examples in Bybit's WebSocket docs pages
(websocket/private/{order,execution,position,wallet}.mdx, public/{kline,ticker,orderbook}.mdx), copied into
tests/fixtures/bybit_docs/ws_*.json by tests/sim/docs_fixtures.py."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from proving.sim import BookParams
from proving.sim.exchange import OrderRequest
from tests.sim.helpers import make_sim
from tests.sim.shapes import load

# Fields of the docs' examples that do not apply to a linear USDT perpetual in a unified account.
NOT_LINEAR = {"extraFees", "brokerOrderPrice", "rpiTakerAccess", "rpiMatchedQty", "colRes", "spotBorrow",
              "availableToBorrow", "availableToWithdraw", "free", "delta", "gamma", "vega", "theta",
              "deliveryTime", "basisRate", "deliveryFeeRate", "basis", "basisRateYear", "predictedDeliveryPrice"}


def jtype(v: Any) -> str:
    return {bool: "bool", int: "int", float: "number", str: "str", list: "list", dict: "dict",
            type(None): "null"}[type(v)]


def assert_same_shape(ours: dict[str, Any], doc: dict[str, Any], where: str) -> None:
    missing = sorted(k for k in doc if k not in ours and k not in NOT_LINEAR)
    assert not missing, f"{where}: fields in the docs example missing from ours: {missing}"
    wrong = {k: (jtype(ours[k]), jtype(v)) for k, v in doc.items()
             if k in ours and k not in NOT_LINEAR and jtype(ours[k]) != jtype(v)
             and not (jtype(v) == "int" and jtype(ours[k]) == "number")}
    assert not wrong, f"{where}: JSON types differ (ours, docs): {wrong}"


@pytest.fixture(scope="module")
def published() -> dict[str, list[dict[str, Any]]]:
    sim = make_sim(symbols=["BTCUSDT"], funding_rate=Decimal("0.0001"))
    got: dict[str, list[dict[str, Any]]] = {}
    sim.publisher.sinks.append(lambda topic, msg: got.setdefault(topic.split(".")[0], []).append(msg))
    with sim.lock:
        sim.exchange.place_order(OrderRequest("BTCUSDT", "Buy", "Market", Decimal("0.01"), stop_loss=Decimal(59000)))
        sim.publisher.flush()
    sim.set_price("BTCUSDT", "58900")
    pub = sim.publisher
    for topic in ("tickers.BTCUSDT", "orderbook.50.BTCUSDT", "kline.5.BTCUSDT"):
        got.setdefault(topic.split(".")[0], []).extend(pub.snapshot(topic))
    return json.loads(json.dumps(got))  # exactly what goes on the wire


@pytest.mark.parametrize("topic", ["order", "execution", "position", "wallet", "kline", "tickers", "orderbook"])
def test_fields_and_types_match_the_docs_example(published, topic):
    doc, _ = load(f"ws_{topic}")
    ours = published[topic][0]
    assert_same_shape(ours, doc, f"{topic} envelope")
    ours_row = ours["data"][0] if isinstance(ours["data"], list) else ours["data"]
    doc_row = doc["data"][0] if isinstance(doc["data"], list) else doc["data"]
    assert_same_shape(ours_row, doc_row, f"{topic} row")
    if topic == "wallet":
        assert_same_shape(ours_row["coin"][0], doc_row["coin"][0], "wallet coin")


def test_maker_messages_have_the_docs_shape():
    """A PostOnly cancelled for taking, a partly filled PostOnly entry, its Partial limit TP triggering and filling
    as maker: every order and execution row published has the docs example's fields and types."""
    sim = make_sim(book=BookParams(enabled=False, level_notional=Decimal("300")))
    got: dict[str, list[dict[str, Any]]] = {}
    sim.publisher.sinks.append(lambda topic, msg: got.setdefault(topic, []).extend(msg["data"]))
    with sim.lock:
        sim.exchange.place_order(OrderRequest("BTCUSDT", "Buy", "Limit", Decimal("0.01"), Decimal(60000),
                                              "PostOnly"))
        sim.exchange.place_order(OrderRequest(
            "BTCUSDT", "Buy", "Limit", Decimal("0.012"), Decimal(59990), "PostOnly", take_profit=Decimal(60900),
            tpsl_mode="Partial", tp_order_type="Limit", tp_limit_price=Decimal(61000)))
        sim.publisher.flush()
    for price in ("59990", "60950", "61000.1"):
        sim.set_price("BTCUSDT", price)
    rows = json.loads(json.dumps(got))
    for topic in ("order", "execution"):
        doc = load(f"ws_{topic}")[0]["data"][0]
        for row in rows[topic]:
            assert_same_shape(row, doc, f"{topic} row {row.get('orderStatus', row.get('execType'))}")
    assert {(r["stopOrderType"], r["orderStatus"]) for r in rows["order"]} >= {
        ("", "Cancelled"), ("", "PartiallyFilled"), ("PartialTakeProfit", "New"), ("PartialTakeProfit", "Filled")}
    assert [(r["stopOrderType"], r["isMaker"]) for r in rows["execution"]] == [("", True), ("PartialTakeProfit", True)]
