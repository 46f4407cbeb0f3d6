"""Simulator stream messages have the fields and JSON types of the examples in Bybit's WebSocket docs pages
(shared/reference/bybit-docs/websocket/private/{order,execution,position,wallet}.mdx,
public/{kline,ticker,orderbook}.mdx)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from proving.sim.exchange import OrderRequest
from tests.sim.helpers import make_sim

ROOT = Path(__file__).resolve().parents[2]
DOCS = next((p / "shared" / "reference" / "bybit-docs" / "websocket" for p in (ROOT.parent, ROOT.parent.parent)
             if (p / "shared" / "reference" / "bybit-docs").exists()), Path("../shared/reference/bybit-docs/websocket"))
# Fields of the docs' examples that do not apply to a linear USDT perpetual in a unified account.
NOT_LINEAR = {"extraFees", "brokerOrderPrice", "rpiTakerAccess", "rpiMatchedQty", "colRes", "spotBorrow",
              "availableToBorrow", "availableToWithdraw", "free", "delta", "gamma", "vega", "theta",
              "deliveryTime", "basisRate", "deliveryFeeRate", "basis", "basisRateYear", "predictedDeliveryPrice"}


def doc_examples(page: str) -> list[dict[str, Any]]:
    """Every JSON example with a ``topic`` on a docs page ('...' elisions and // comments removed)."""
    text = (DOCS / page).read_text()
    out = []
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        lines = [ln for ln in block.splitlines() if ln.strip() not in ("...,", "...")
                 and not ln.strip().startswith("//")]
        for part in re.split(r"^[A-Za-z]+$", "\n".join(lines), flags=re.M):  # "LinearPerpetual" captions
            part = re.sub(r",(\s*[\]}])", r"\1", part.strip())
            if part.startswith("{"):
                obj = json.loads(part)
                if isinstance(obj, dict) and "topic" in obj:
                    out.append(obj)
    return out


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


@pytest.mark.parametrize("page,topic", [("private/order.mdx", "order"), ("private/execution.mdx", "execution"),
                                        ("private/position.mdx", "position"), ("private/wallet.mdx", "wallet"),
                                        ("public/kline.mdx", "kline"), ("public/ticker.mdx", "tickers"),
                                        ("public/orderbook.mdx", "orderbook")])
def test_fields_and_types_match_the_docs_example(published, page, topic):
    [doc, *_] = [d for d in doc_examples(page) if topic != "tickers" or d["data"].get("symbol") == "BTCUSDT"]
    ours = published[topic][0]
    assert_same_shape(ours, doc, f"{topic} envelope")
    ours_row = ours["data"][0] if isinstance(ours["data"], list) else ours["data"]
    doc_row = doc["data"][0] if isinstance(doc["data"], list) else doc["data"]
    assert_same_shape(ours_row, doc_row, f"{topic} row")
    if topic == "wallet":
        assert_same_shape(ours_row["coin"][0], doc_row["coin"][0], "wallet coin")
