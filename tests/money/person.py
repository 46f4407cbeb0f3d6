"""A person on the exchange website: the same account as the bot, through the simulator's HTTP API.

A plain signed client (httpx + the v5 signing rule), not the bot's ``BybitClient``: what a person does must not
share the bot's retries, lookups or parsing. Every action is one request; Bybit's refusal is an answer, not an
error (a person clicking something the exchange refuses just sees the refusal).
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx

from tradebot.bybit.auth import encode_body, encode_query, sign

RECV = "5000"


@dataclass(frozen=True)
class Answer:
    code: int
    msg: str
    result: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.code == 0


class Website:
    """The account's owner clicking on bybit.com: orders, position TP/SL/trailing and leverage for one symbol."""

    def __init__(self, url: str, key: str, secret: str, symbol: str, qty_step: Decimal, min_qty: Decimal,
                 tls: ssl.SSLContext | bool = True) -> None:
        self.http = httpx.Client(base_url=url, timeout=10, verify=tls)
        self.key, self.secret, self.symbol = key, secret, symbol
        self.step, self.min_qty = qty_step, min_qty
        self.n = 0

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, params: dict[str, Any]) -> Answer:
        ts = str(time.time_ns() // 1_000_000)
        if method == "GET":
            payload = encode_query(params)
            req = self.http.build_request("GET", f"{path}?{payload}")
        else:
            payload = encode_body(params)
            req = self.http.build_request("POST", path, content=payload.encode(),
                                          headers={"Content-Type": "application/json"})
        req.headers.update({"X-BAPI-API-KEY": self.key, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": RECV,
                            "X-BAPI-SIGN": sign(self.secret, ts, self.key, RECV, payload)})
        body = self.http.send(req).json()
        return Answer(int(body["retCode"]), str(body["retMsg"]), body.get("result") or {})

    def _qty(self, qty: Decimal) -> Decimal:
        return (qty / self.step).to_integral_value(ROUND_DOWN) * self.step

    def _link(self) -> str:
        self.n += 1
        return f"web-{self.n}"

    # -- orders -------------------------------------------------------------------------------------
    def market(self, side: str, qty: Decimal, *, reduce_only: bool = False) -> Answer:
        qty = self._qty(qty)
        if qty < self.min_qty:
            return Answer(-1, "below the minimum qty: the website would not offer it", {})
        return self._call("POST", "/v5/order/create", {
            "category": "linear", "symbol": self.symbol, "side": side, "orderType": "Market", "qty": str(qty),
            "reduceOnly": reduce_only, "orderLinkId": self._link()})

    def cancel(self, order_id: str) -> Answer:
        return self._call("POST", "/v5/order/cancel", {"category": "linear", "symbol": self.symbol,
                                                        "orderId": order_id})

    # -- the position ---------------------------------------------------------------------------------
    def trading_stop(self, **fields: str) -> Answer:
        """``stopLoss``/``takeProfit``/``trailingStop`` ("0" removes), ``activePrice``, ``slTriggerBy``..."""
        return self._call("POST", "/v5/position/trading-stop", {
            "category": "linear", "symbol": self.symbol, "tpslMode": "Full", "positionIdx": 0, **fields})

    def leverage(self, lev: Decimal) -> Answer:
        return self._call("POST", "/v5/position/set-leverage", {
            "category": "linear", "symbol": self.symbol, "buyLeverage": str(lev), "sellLeverage": str(lev)})
