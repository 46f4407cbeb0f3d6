"""Bad exchange answers (a transport wrapping the simulator corrupts one response): malformed JSON, unknown
retCodes, missing fields, absurd values (negative price, zero ATR, qty below the minimum) → a clear error, no order
sent, and the loop goes on (the next bar trades normally)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.engine.conftest import SYMBOL
from tradebot.events import ConfirmationNeeded, EntryFailed, ErrorEvent, SignalEvent

Body = Callable[[dict[str, Any] | None], bytes | dict[str, Any]]


class Corrupting(httpx.AsyncBaseTransport):
    """Forwards to the simulator; the next ``n`` requests to a path get ``body(original)`` instead.

    ``forward=False``: the simulator never sees the request (e.g. an order the exchange refused)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.rules: dict[str, list[Any]] = {}
        self.hits: dict[str, int] = {}

    def corrupt(self, path: str, body: Body, n: int = 1, forward: bool = True) -> None:
        self.rules[path] = [body, n, forward]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        rule = self.rules.get(request.url.path)
        if rule is None or rule[1] <= 0:
            return await self.inner.handle_async_request(request)
        body, rule[1], forward = rule[0], rule[1] - 1, rule[2]
        self.hits[request.url.path] = self.hits.get(request.url.path, 0) + 1
        original = None
        if forward:
            resp = await self.inner.handle_async_request(request)
            original = json.loads(await resp.aread())
        out = body(original)
        content = out if isinstance(out, bytes) else json.dumps(out).encode()
        return httpx.Response(200, headers={"Content-Type": "application/json"}, content=content)


def envelope(code: int = 0, msg: str = "OK", result: Any = None) -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result if result is not None else {}, "time": 0}


def edit_rows(fn: Callable[[list[Any]], list[Any]]) -> Body:
    def body(orig: dict[str, Any] | None) -> dict[str, Any]:
        assert orig is not None
        res = dict(orig["result"])
        res["list"] = fn(list(res["list"]))
        return {**orig, "result": res}
    return body


def flat(rows: list[list[str]]) -> list[list[str]]:
    return [[r[0], "50000", "50000", "50000", "50000", *r[5:]] for r in rows]


KLINES, CREATE = "/v5/market/kline", "/v5/order/create"
CASES: dict[str, tuple[str, Body, bool, str]] = {
    # name: (path, corrupted body, forward, words expected in the error/event text)
    "klines malformed JSON": (KLINES, lambda o: b"{\"retCode\": 0, \"result\": {\"list\": [[", True, "malformed JSON"),
    "klines HTML body": (KLINES, lambda o: b"<html>maintenance</html>", True, "malformed JSON"),
    "klines not an object": (KLINES, lambda o: b"[1, 2, 3]", True, "unexpected response shape"),
    "klines missing retCode": (KLINES, lambda o: {"result": o["result"]}, True, "unexpected response shape"),
    "klines retCode not int": (KLINES, lambda o: {**o, "retCode": "0"}, True, "unexpected retCode"),
    "klines unknown retCode": (KLINES, lambda o: envelope(123456, "mystery"), True, "unknown Bybit error code"),
    "klines short rows": (KLINES, edit_rows(lambda rows: [r[:3] for r in rows]), True, "malformed kline row"),
    "klines missing list": (KLINES, lambda o: envelope(result={"category": "linear"}), True, "not enough candles"),
    "klines negative price": (KLINES, edit_rows(lambda rows: [[r[0], "-5", "-1", "-9", "-5", *r[5:]]
                                                                for r in rows]), True, "absurd"),
    "klines garbage number": (KLINES, edit_rows(lambda rows: [[r[0], "abc", *r[2:]] for r in rows]), True,
                              "malformed number"),
    "klines low above high": (KLINES, edit_rows(lambda rows: [[r[0], r[1], r[3], r[2], *r[4:]] for r in rows]),
                              True, "absurd"),
    "ticker negative price": ("/v5/market/tickers", edit_rows(lambda rows: [{**r, "lastPrice": "-1"} for r in rows]),
                              True, "absurd"),
    "zero ATR (flat candles)": (KLINES, edit_rows(flat), True, ""),  # no trend, no ATR: HOLD, nothing to size
    "wallet missing fields": ("/v5/account/wallet-balance", lambda o: envelope(result={"list": [{}]}), True,
                              "balance 0"),
    "wallet tiny balance → qty below minimum": (
        "/v5/account/wallet-balance",
        lambda o: {**o, "result": {"list": [{**o["result"]["list"][0], "totalEquity": "0.5",
                                             "totalAvailableBalance": "0.5", "totalWalletBalance": "0.5",
                                             "coin": [{**c, "walletBalance": "0.5", "equity": "0.5",
                                                       "availableToWithdraw": "0.5"}
                                                      for c in o["result"]["list"][0]["coin"]]}]}},
        True, "min"),
    "positions unknown retCode": ("/v5/position/list", lambda o: envelope(170999, "odd"), True,
                                  "unknown Bybit error code"),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_answer_before_the_entry_sends_nothing_and_the_loop_goes_on(make_rig, case):
    path, body, forward, words = CASES[case]
    box: list[Corrupting] = []
    mode = "confirm" if path == "/v5/market/tickers" else "auto"  # the ticker is read when a card is approved
    rig = make_rig(mode=mode, transport=lambda sim: box.append(Corrupting(sim.transport())) or box[0])
    await rig.engine.start()
    box[0].corrupt(path, body, n=20, forward=forward)
    status = await rig.engine.tick(SYMBOL)  # must return, never raise
    for card in rig.events.of(ConfirmationNeeded):
        out = await rig.engine.desk.approve(card.confirmation_id, 1)
        rig.events.events.append(ErrorEvent(f"approve: {out.status}: {out.text}"))
    texts = [status.error or ""] + [e.message for e in rig.events.of(ErrorEvent)] + [
        e.reason for e in rig.events.of(EntryFailed)] + [e.not_traded or "" for e in rig.events.of(SignalEvent)]
    print(f"\n  {case}: tick ok={status.ok}; {next((t for t in texts if t), 'no error text')[:160]}")
    assert box[0].hits.get(path), "the corruption was not exercised"
    assert not [e for e in rig.sim.state()["executions"] if e["execType"] == "Trade"], "an order was sent"
    if words:
        assert any(words.lower() in t.lower() for t in texts), texts
    else:
        assert status.ok and rig.engine.market.last_signals[SYMBOL].action == "HOLD"
    assert "Traceback" not in " ".join(texts)
    box[0].rules.clear()
    rig.sim.step(1)
    assert (await rig.engine.tick(SYMBOL)).ok  # the loop goes on: the next bar trades
    for card in rig.events.of(ConfirmationNeeded)[-1:]:
        await rig.engine.desk.approve(card.confirmation_id, 1)
    assert rig.position() is not None and Decimal(rig.position()["stopLoss"]) > 0


@pytest.mark.parametrize(("case", "body", "expect"), [
    ("unknown retCode", lambda o: envelope(170999, "something new"), "failed"),  # a rejection: said so at once
    ("malformed JSON", lambda o: b"\x00\xff not json", "executing"),  # unknown: looked up, then reconciled
    ("missing orderId", lambda o: envelope(result={}), "executing"),
])
async def test_bad_answer_to_the_order_create(make_rig, db, case, body, expect):
    """Create answered badly without reaching the exchange: nothing traded, a clear outcome, the card settled."""
    box: list[Corrupting] = []
    rig = make_rig(mode="confirm", transport=lambda sim: box.append(Corrupting(sim.transport())) or box[0])
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    box[0].corrupt(CREATE, body, n=10, forward=False)
    out = await rig.engine.desk.approve(card.confirmation_id, 1)
    print(f"\n  create → {case}: {out.status}: {out.text[:160]}")
    assert not [e for e in rig.sim.state()["executions"] if e["execType"] == "Trade"]
    assert out.status == expect and out.text  # was "executing: Order sent" for an unknown retCode
    box[0].rules.clear()
    for _ in range(2):
        assert (await rig.engine.tick(SYMBOL)).ok
    from tests.reliability.audit import audit, settle_problems

    a = audit(rig.sim.state(), db)
    assert not settle_problems(a) and a.conf_status == {"failed": 1}, a.conf_status  # settled, not stuck


@pytest.mark.parametrize("lookups", ["work", "fail too"])
async def test_malformed_answer_to_an_executed_create_is_journaled_once_and_protected(make_rig, db, lookups):
    """The exchange filled the order but its answer was garbage (and maybe the lookups by orderLinkId fail too):
    the position must end up journaled linked to its confirmation (not adopted as an unknown position),
    protected, and the card settled as executed."""
    box: list[Corrupting] = []
    rig = make_rig(mode="confirm", transport=lambda sim: box.append(Corrupting(sim.transport())) or box[0])
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    box[0].corrupt(CREATE, lambda o: b"<html>502</html>", n=1, forward=True)
    if lookups == "fail too":
        for path in ("/v5/order/realtime", "/v5/order/history"):
            box[0].corrupt(path, lambda o: b"", n=2)
    out = await rig.engine.desk.approve(card.confirmation_id, 1)
    print(f"\n  executed create, garbage answer, lookups {lookups} → {out.status}: {out.text[:160]}")
    assert out.status == ("executed" if lookups == "work" else "executing")
    statuses = [await rig.engine.tick(SYMBOL) for _ in range(3)]  # one more garbage lookup, then it settles
    assert statuses[-1].ok
    from tests.reliability.audit import audit, settle_problems

    a = audit(rig.sim.state(), db)
    assert a.entry_orders == 1 and not settle_problems(a)
    assert a.adopted == 0, "the bot's own order was adopted as an unknown position"
    assert a.conf_status == {"executed": 1}, a.conf_status
