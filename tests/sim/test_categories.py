"""Queries in the categories the simulator's account holds nothing in (spot, inverse, option) get Bybit's answer for
an account that holds none there: an empty list in the page's shape, not a refusal (third-party clients ask them at
start: ccxt's position snapshot asks linear and inverse, pybit users ask every category).

Which categories each endpoint accepts is its docs page's Request Parameters ``category`` row, copied into
``tests/fixtures/bybit_docs/categories.json`` by ``python -m tests.sim.docs_fixtures`` (the page is named there).
A category the page does not list is still 10001 ``Illegal category``.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from proving.sim.categories import OTHER
from tests.sim.helpers import SyncApi, make_sim

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bybit_docs" / "categories.json"
DOCUMENTED: dict[str, dict[str, object]] = json.loads(FIXTURE.read_text())
METHOD = {"/v5/order/cancel-all": "POST"}
SHAPE = {  # the keys of each page's response example (tests/fixtures/bybit_docs/<endpoint>.json)
    "/v5/position/list": {"category", "list", "nextPageCursor"},
    "/v5/order/realtime": {"category", "list", "nextPageCursor"},
    "/v5/order/history": {"category", "list", "nextPageCursor"},
    "/v5/execution/list": {"category", "list", "nextPageCursor"},
    "/v5/position/closed-pnl": {"category", "list", "nextPageCursor"},
    "/v5/order/cancel-all": {"list", "success"},
    "/v5/account/fee-rate": {"list"},
    "/v5/market/instruments-info": {"category", "list", "nextPageCursor"},
    "/v5/market/tickers": {"category", "list"},
}
FIXTURE_NAMES = {"/v5/position/list": "position_list", "/v5/order/realtime": "order_realtime",
                 "/v5/order/history": "order_history", "/v5/execution/list": "execution_list",
                 "/v5/position/closed-pnl": "position_closed_pnl", "/v5/order/cancel-all": "order_cancel_all",
                 "/v5/account/fee-rate": "account_fee_rate", "/v5/market/instruments-info": "market_instruments_info",
                 "/v5/market/tickers": "market_tickers"}
CASES = [(path, cat) for path in sorted(DOCUMENTED) for cat in ("spot", "inverse", "option")]


@pytest.fixture(scope="module")
def api():
    sim = make_sim()
    with httpx.Client(transport=sim.sync_transport(), base_url="http://sim") as c:
        yield SyncApi(c)


def call(api: SyncApi, path: str, **params: object) -> dict:
    return api.post(path, **params) if METHOD.get(path) == "POST" else api.get(path, **params)


def test_the_simulator_serves_exactly_the_documented_categories():
    assert {path: {"linear", *others} for path, (others, _) in OTHER.items()} == {
        path: set(d["categories"]) for path, d in DOCUMENTED.items()}


def test_the_shapes_are_the_pages_examples():
    root = FIXTURE.parent
    for path, name in FIXTURE_NAMES.items():
        example = json.loads((root / f"{name}.json").read_text())
        assert set(example["result"]) == SHAPE[path], path


@pytest.mark.parametrize(("path", "cat"), CASES)
def test_an_account_holding_nothing_in_a_category_gets_an_empty_list(api, path, cat):
    scope = {"symbol": "BTCUSD"} if path == "/v5/order/cancel-all" and cat == "inverse" else {}
    out = call(api, path, category=cat, **scope)
    if cat not in DOCUMENTED[path]["categories"]:
        assert (out["retCode"], out["retMsg"]) == (10001, "Illegal category"), out
        return
    assert out["retCode"] == 0, out
    assert set(out["result"]) == SHAPE[path] and out["result"]["list"] == []
    if "category" in SHAPE[path]:
        assert out["result"]["category"] == cat
    if "nextPageCursor" in SHAPE[path]:
        assert out["result"]["nextPageCursor"] == ""


def test_linear_answers_are_unchanged(api):
    [row] = call(api, "/v5/market/tickers", category="linear")["result"]["list"]
    assert row["symbol"] == "BTCUSDT"
    assert call(api, "/v5/position/list", category="linear", settleCoin="USDT")["result"]["list"] == []
    linear = call(api, "/v5/position/list", category="linear")  # linear needs symbol or settleCoin (position.mdx)
    assert linear["retCode"] == 10001


def test_the_pages_rules_still_apply_in_the_other_categories(api):
    week = 7 * 86_400_000
    # order-list.mdx / execution.mdx / close-pnl.mdx: endTime - startTime <= 7 days, whatever the category
    for path in ("/v5/order/history", "/v5/execution/list", "/v5/position/closed-pnl"):
        out = call(api, path, category="inverse", startTime=1, endTime=week + 2)
        assert out["retCode"] == 10001 and "7 days" in out["retMsg"], (path, out)
    # cancel-all.mdx: linear & inverse need symbol, baseCoin or settleCoin; spot and option need none
    assert call(api, "/v5/order/cancel-all", category="inverse")["retCode"] == 10001
    assert call(api, "/v5/order/cancel-all", category="option")["result"] == {"list": [], "success": "1"}
    # create-order.mdx: trading in a category the simulator does not simulate is still refused
    out = api.post("/v5/order/create", category="spot", symbol="BTCUSDT", side="Buy", orderType="Market", qty="1")
    assert out["retCode"] == 10001
