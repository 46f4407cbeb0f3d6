"""The simulator answers like Bybit's own docs examples: same fields, same JSON types, same empty-value style.

Each fixture in tests/fixtures/bybit_docs/ is the response example of one docs page (its ``_source`` names the
page, copied under tests/fixtures/bybit_docs/pages/). One signed trading scenario over the in-process transport puts the
simulator in the state each example shows (a resting Limit order with TP/SL for open-order.mdx, a cancelled one
for order-list.mdx, an opening Market fill for execution.mdx, an open Sell position for position.mdx, ...) and
records its answers. Known, written differences live in proving/sim/conformance.py.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from proving.sim import BookParams, conformance
from tests.sim import docs_fixtures
from tests.sim.helpers import SyncApi, make_sim, signed_headers
from tests.sim.shapes import ENVELOPE, Diff, jtype, load

# fixture name -> "METHOD /path" of the endpoint whose answer it documents
ENDPOINTS = {
    "market_time": "GET /v5/market/time", "market_kline": "GET /v5/market/kline",
    "market_tickers": "GET /v5/market/tickers", "market_orderbook": "GET /v5/market/orderbook",
    "market_instruments_info": "GET /v5/market/instruments-info",
    "market_funding_history": "GET /v5/market/funding/history",
    "order_create": "POST /v5/order/create", "order_amend": "POST /v5/order/amend",
    "order_cancel": "POST /v5/order/cancel", "order_cancel_all": "POST /v5/order/cancel-all",
    "order_realtime": "GET /v5/order/realtime", "order_history": "GET /v5/order/history",
    "execution_list": "GET /v5/execution/list", "position_list": "GET /v5/position/list",
    "position_trading_stop": "POST /v5/position/trading-stop",
    "position_set_leverage": "POST /v5/position/set-leverage",
    "position_closed_pnl": "GET /v5/position/closed-pnl", "account_wallet_balance": "GET /v5/account/wallet-balance",
    "account_info": "GET /v5/account/info", "account_fee_rate": "GET /v5/account/fee-rate",
}
SYM = {"category": "linear", "symbol": "BTCUSDT"}


def _call(api: SyncApi, endpoint: str, **params: Any) -> dict[str, Any]:
    """The raw signed answer (envelope included); a route the simulator lacks fails here (HTTP 404)."""
    method, path = endpoint.split(" ")
    q = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    if method == "GET":
        r = api.c.get(f"{path}?{q}" if q else path, headers=signed_headers(q))
    else:
        body = json.dumps(params)
        r = api.c.post(path, content=body, headers=signed_headers(body))
    assert r.status_code == 200, f"{endpoint}: HTTP {r.status_code} {r.text}"
    out = r.json()
    assert out["retCode"] == 0, (endpoint, params, out)
    return out


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, Any]]:
    """Drive one simulator through the states the docs examples show; record each endpoint's answer."""
    sim = make_sim()
    got: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as client:
        api = SyncApi(client)
        got["market_time"] = _call(api, ENDPOINTS["market_time"])
        got["market_kline"] = _call(api, ENDPOINTS["market_kline"], **SYM, interval="60", limit=3)
        got["market_tickers"] = _call(api, ENDPOINTS["market_tickers"], **SYM)
        got["market_orderbook"] = _call(api, ENDPOINTS["market_orderbook"], **SYM, limit=1)
        got["market_instruments_info"] = _call(api, ENDPOINTS["market_instruments_info"], **SYM)
        got["account_info"] = _call(api, ENDPOINTS["account_info"])
        got["account_fee_rate"] = _call(api, ENDPOINTS["account_fee_rate"], **SYM)
        got["position_set_leverage"] = _call(api, ENDPOINTS["position_set_leverage"], **SYM,
                                             buyLeverage="5", sellLeverage="5")
        # open-order.mdx: a resting Buy Limit with TP/SL
        got["order_create"] = _call(api, ENDPOINTS["order_create"], **SYM, side="Buy", orderType="Limit",
                                    qty="0.010", price="59000", takeProfit="61000", stopLoss="58000",
                                    orderLinkId="conform-limit")
        got["order_amend"] = _call(api, ENDPOINTS["order_amend"], **SYM, orderLinkId="conform-limit",
                                   price="58900")
        got["order_realtime"] = _call(api, ENDPOINTS["order_realtime"], **SYM)
        # order-list.mdx: a cancelled Limit order, and its example's own state: a PostOnly that would have taken
        got["order_cancel"] = _call(api, ENDPOINTS["order_cancel"], **SYM, orderLinkId="conform-limit")
        _call(api, ENDPOINTS["order_create"], **SYM, side="Buy", orderType="Limit", qty="0.003", price="60000",
              timeInForce="PostOnly", orderLinkId="conform-postonly")
        got["order_history"] = _call(api, ENDPOINTS["order_history"], **SYM)
        _call(api, ENDPOINTS["order_create"], **SYM, side="Buy", orderType="Limit", qty="0.010", price="59000",
              orderLinkId="conform-rest")
        got["order_cancel_all"] = _call(api, ENDPOINTS["order_cancel_all"], **SYM)
        # execution.mdx / position.mdx: an opening Market fill, an open Sell position
        _call(api, ENDPOINTS["order_create"], **SYM, side="Sell", orderType="Market", qty="0.010",
              orderLinkId="conform-open")
        got["execution_list"] = _call(api, ENDPOINTS["execution_list"], **SYM)
        got["position_trading_stop"] = _call(api, ENDPOINTS["position_trading_stop"], **SYM, tpslMode="Full",
                                             positionIdx=0, stopLoss="61000")
        got["position_list"] = _call(api, ENDPOINTS["position_list"], **SYM)
        got["stop_orders"] = _call(api, ENDPOINTS["order_realtime"], **SYM, orderFilter="StopOrder")
        got["account_wallet_balance"] = _call(api, ENDPOINTS["account_wallet_balance"], accountType="UNIFIED")
        # close-pnl.mdx: the position closed by a Market order
        _call(api, ENDPOINTS["order_create"], **SYM, side="Buy", orderType="Market", qty="0.010",
              reduceOnly=True, orderLinkId="conform-close")
        got["position_closed_pnl"] = _call(api, ENDPOINTS["position_closed_pnl"], **SYM)
        got["filled_history"] = _call(api, ENDPOINTS["order_history"], **SYM, orderStatus="Filled")
        got["all_executions"] = _call(api, ENDPOINTS["execution_list"], **SYM)
        got["flat_position"] = _call(api, ENDPOINTS["position_list"], **SYM)
    funding = make_sim(funding_rate=Decimal("0.0001"))  # history-fund-rate.mdx: one settled funding at least
    with httpx.Client(base_url="http://sim", transport=funding.sync_transport()) as client:
        api = SyncApi(client)
        _call(api, ENDPOINTS["order_create"], **SYM, side="Buy", orderType="Market", qty="0.010")
        funding.step(8 * 12 + 1)  # 8 h of 5-minute candles: the position pays funding once
        got["market_funding_history"] = _call(api, ENDPOINTS["market_funding_history"], **SYM, limit=1)
        got["funding_executions"] = _call(api, ENDPOINTS["execution_list"], **SYM, execType="Funding")
    maker = make_sim(book=BookParams(enabled=False, level_notional=Decimal("300")))  # a touch fills 0.005
    with httpx.Client(base_url="http://sim", transport=maker.sync_transport()) as client:
        api = SyncApi(client)
        _call(api, ENDPOINTS["order_create"], **SYM, side="Buy", orderType="Limit", qty="0.012", price="59990",
              timeInForce="PostOnly", orderLinkId="conform-maker", tpslMode="Partial", takeProfit="60900",
              tpOrderType="Limit", tpLimitPrice="61000", stopLoss="59000")
        maker.set_price("BTCUSDT", "59990")
        got["partial_fill"] = _call(api, ENDPOINTS["order_realtime"], **SYM, orderLinkId="conform-maker")
        got["partial_stops"] = _call(api, ENDPOINTS["order_realtime"], **SYM, orderFilter="StopOrder")
        got["partial_position"] = _call(api, ENDPOINTS["position_list"], **SYM)
        maker.set_price("BTCUSDT", "60950")
        maker.set_price("BTCUSDT", "61000.1")
        got["maker_executions"] = _call(api, ENDPOINTS["execution_list"], **SYM)
        got["partial_history"] = _call(api, ENDPOINTS["order_history"], **SYM)
    return got


def _diff(name: str, sim: dict[str, Any], *, values: bool = True) -> tuple[str, Diff]:
    doc, source = load(name)
    endpoint = ENDPOINTS[name]
    assert set(sim) == set(ENVELOPE), f"{endpoint}: envelope keys {sorted(sim)}"
    for k in doc:
        assert jtype(doc[k]) == jtype(sim[k]), f"{endpoint}: envelope {k} is {jtype(sim[k])}"
    d = Diff(source["documented"], values=values)
    d.compare(doc["result"], sim["result"])
    return endpoint, d


def _unexplained(endpoint: str, d: Diff) -> list[str]:
    out = [f"{p}: documented, simulator omits it ({why})" for p, why in d.missing.items()
           if p not in conformance.NOT_SIMULATED.get(endpoint, {})]
    out += [f"{p}: simulator sends it, the docs page does not list it ({why})" for p, why in d.extra.items()
            if p not in conformance.EXTRA.get(endpoint, {})]
    out += [f"{p}: JSON type differs: {why}" for p, why in d.types.items()]
    out += [f"{p}: empty-value style differs: {why}" for p, why in d.empties.items()
            if p not in conformance.VALUES.get(endpoint, {})]
    return out


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_simulator_answers_like_the_docs_example(name, answers):
    endpoint, d = _diff(name, answers[name])
    problems = _unexplained(endpoint, d)
    assert not problems, f"{endpoint} vs {load(name)[1]['page']}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(("name", "extra"), [("order_history", "filled_history"),
                                             ("execution_list", "all_executions"),
                                             ("position_list", "flat_position"),
                                             ("order_realtime", "stop_orders"),
                                             ("execution_list", "funding_executions"),
                                             ("order_realtime", "partial_fill"), ("order_realtime", "partial_stops"),
                                             ("position_list", "partial_position"),
                                             ("execution_list", "maker_executions"),
                                             ("order_history", "partial_history")])
def test_other_states_have_the_same_shape(name, extra, answers):
    """Filled orders, closing and funding fills, a flat position, the position's TP/SL orders, a partly filled
    PostOnly entry, its Partial TP/SL orders and their maker fills: the example's shape."""
    assert answers[extra]["result"]["list"], f"{extra}: the simulator answered an empty list"
    endpoint, d = _diff(name, answers[extra], values=False)
    assert not _unexplained(endpoint, d)
    if extra == "funding_executions":
        assert {e["execType"] for e in answers[extra]["result"]["list"]} == {"Funding"}
    if extra == "flat_position":  # position.mdx table: side is "" for an empty position
        row = answers[extra]["result"]["list"][0]
        assert (row["side"], row["size"]) == ("", "0")


def test_written_differences_are_current(answers):
    """Every entry in proving/sim/conformance.py still names a real difference (else delete it)."""
    found: dict[str, dict[str, set[str]]] = {}
    for name, endpoint in ENDPOINTS.items():
        _, d = _diff(name, answers[name])
        found[endpoint] = {"NOT_SIMULATED": set(d.missing), "EXTRA": set(d.extra), "VALUES": set(d.empties)}
    stale = [f"{kind} {endpoint} {p}" for kind in ("NOT_SIMULATED", "EXTRA", "VALUES")
             for endpoint, fields in getattr(conformance, kind).items() for p in fields
             if endpoint in found and p not in found[endpoint][kind]]
    assert not stale, "no longer differs; remove from proving/sim/conformance.py: " + ", ".join(stale)


@pytest.mark.parametrize("name", sorted([*docs_fixtures.SPECS, *docs_fixtures.WS_SPECS]))
def test_fixture_is_the_docs_example(name):
    """The committed fixture is exactly the page's example (rebuild: python -m tests.sim.docs_fixtures)."""
    committed = json.loads((docs_fixtures.FIXTURES / f"{name}.json").read_text())
    built = docs_fixtures.build(name) if name in docs_fixtures.SPECS else docs_fixtures.build_ws(name)
    assert committed == built


def test_postonly_history_row_is_the_docs_example_state(answers):
    """order-list.mdx's example is a PostOnly that would have taken: Cancelled, cancelType UNKNOWN, rejectReason
    EC_PostOnlyWillTakeLiquidity, nothing executed; the simulator's row for such an order says the same."""
    doc = load("order_history")[0]["result"]["list"][0]
    row = next(r for r in answers["order_history"]["result"]["list"]
               if r["orderLinkId"] == "conform-postonly")
    keys = ("orderStatus", "cancelType", "rejectReason", "timeInForce", "orderType", "side", "tpslMode")
    assert {k: row[k] for k in keys} == {k: doc[k] for k in keys}
    assert Decimal(row["cumExecQty"]) == Decimal(doc["cumExecQty"]) == 0


def test_modelling_choices_are_in_the_rule_list():
    """Each choice in conformance.MODELLED is named in proving/sim/__init__.py's rule list."""
    import proving.sim

    doc = proving.sim.__doc__ or ""
    assert [k for k in conformance.MODELLED if f"``{k}``" not in doc] == []


def test_every_fixture_is_checked():
    assert set(ENDPOINTS) == set(docs_fixtures.SPECS)
    assert Decimal(load("order_realtime")[0]["result"]["list"][0]["cumFeeDetail"]["MNT"]) > 0


def test_the_comparison_catches_each_kind_of_difference():
    documented = {"list": "array", ">a": "string", ">n": "integer", ">inner": "object", ">>b": "string"}
    doc = {"list": [{"a": "1.5", "z": "0", "e": "", "n": 1, "inner": {"b": "x"}, "cumFeeDetail": {"MNT": "1"}}]}
    sim = {"list": [{"a": 1.5, "e": "0", "n": 2, "inner": {"b": "y", "a": "?"}, "cumFeeDetail": {"USDT": "2"},
                     "b": "?"}]}
    d = Diff(documented)
    d.compare(doc, sim)
    assert d.types == {"list.a": "docs string '1.5', simulator number 1.5"}
    assert set(d.missing) == {"list.z"}
    assert set(d.extra) == {"list.inner.a", "list.b"}  # documented, but at another depth
    assert set(d.empties) == {"list.e"}
    d = Diff(documented)
    d.compare({"list": [{"z": "0.00"}]}, {"list": [{"z": ""}]})
    assert set(d.empties) == {"list.z"}
    d = Diff(documented)
    d.compare({"list": [{"a": "x"}]}, {"list": []})
    assert "list" in d.types  # an empty answer proves nothing
