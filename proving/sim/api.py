"""Request router: Bybit auth, envelope, rate limits, fault injection and the /sim control endpoints."""

from __future__ import annotations

import json
from collections import deque
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from tradebot.bybit.auth import verify

from .exchange import SimRejection
from .handlers import PRIVATE, PUBLIC
from .host import RouteResult, SimHost
from .models import fmt
from .params import Params

# Per-UID, per-endpoint limits (requests per rolling second), default Pro tier, linear.
RATE_LIMITS = {
    "/v5/order/create": 10, "/v5/order/amend": 10, "/v5/order/cancel": 10, "/v5/order/cancel-all": 10,
    "/v5/order/realtime": 50, "/v5/order/history": 50, "/v5/execution/list": 50, "/v5/position/list": 50,
    "/v5/position/closed-pnl": 50, "/v5/position/set-leverage": 10, "/v5/position/switch-mode": 10,
    "/v5/position/trading-stop": 10, "/v5/account/wallet-balance": 50, "/v5/account/info": 50,
    "/v5/account/fee-rate": 10,
}
TIMESTAMP_MSG = ("invalid request, please check your server timestamp or recv_window param. "
                 "req_timestamp[{ts}],server_timestamp[{now}],recv_window[{recv}]")
JSON_HEADERS = {"Content-Type": "application/json"}
Json = dict[str, Any]


class RateLimiter:
    """Rolling one-second window per (api key, path)."""

    def __init__(self) -> None:
        self.hits: dict[tuple[str, str], deque[int]] = {}

    def check(self, key: str, path: str, now: int, enforce: bool) -> tuple[bool, dict[str, str]]:
        limit = RATE_LIMITS.get(path, 10)
        q = self.hits.setdefault((key, path), deque())
        while q and q[0] <= now - 1000:
            q.popleft()
        ok = not enforce or len(q) < limit
        if ok:
            q.append(now)
        reset = q[0] + 1000 if (not ok and q) else now
        return ok, {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(max(0, limit - len(q))),
                    "X-Bapi-Limit-Reset-Timestamp": str(reset)}


class Router:
    """Maps (method, path, raw query, headers, body) to Bybit-shaped answers for one Simulator."""

    def __init__(self, sim: SimHost) -> None:
        self.sim = sim
        self.limiter = RateLimiter()

    def envelope(self, code: int = 0, msg: str = "OK", result: Json | None = None) -> Json:
        return {"retCode": code, "retMsg": msg, "result": result if result is not None else {},
                "retExtInfo": {}, "time": self.sim.wall_ms()}

    # -- the plain router (no faults) -------------------------------------------------------------
    def handle(self, method: str, path: str, raw_query: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], Json]:
        """Route one request; returns (HTTP status, response headers, JSON object)."""
        method = method.upper()
        hdrs = {k.lower(): v for k, v in headers.items()}
        if path.startswith("/sim/"):
            return self._control(method, path, body)
        key = (method, path)
        if key not in PUBLIC and key not in PRIVATE:
            return 404, JSON_HEADERS, {"retCode": 10017, "retMsg": "Route not found", "result": {},
                                       "retExtInfo": {}, "time": self.sim.wall_ms()}
        out_headers = dict(JSON_HEADERS)
        try:
            params = self._params(method, raw_query, body)
            if key in PUBLIC:
                with self.sim.lock:
                    return 200, out_headers, self.envelope(result=PUBLIC[key](self.sim, params))
            api_key = self._auth(method, raw_query, hdrs, body)
            ok, rl = self.limiter.check(api_key, path, self.sim.wall_ms(), self.sim.rate_limits)
            out_headers.update(rl)
            if not ok:
                return 200, out_headers, self.envelope(10006, "Too many visits!")
            with self.sim.lock:
                result = PRIVATE[key](self.sim, params)
                self.sim.publisher.flush()  # order/execution/position/wallet stream messages
                if method == "POST":
                    self.sim.save()
            return 200, out_headers, self.envelope(result=result)
        except SimRejection as e:
            return 200, out_headers, self.envelope(e.code, e.msg)

    @staticmethod
    def _params(method: str, raw_query: str, body: bytes) -> Params:
        if method == "GET":
            return Params(dict(parse_qsl(raw_query, keep_blank_values=True)))
        if not body.strip():
            return Params({})
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise SimRejection(10001, "request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise SimRejection(10001, "request body must be a JSON object")
        return Params(data)

    def _auth(self, method: str, raw_query: str, hdrs: dict[str, str], body: bytes) -> str:
        """Bybit HMAC auth; returns the API key (the UID for rate limiting)."""
        key = hdrs.get("x-bapi-api-key", "")
        sign, ts = hdrs.get("x-bapi-sign", ""), hdrs.get("x-bapi-timestamp", "")
        recv = hdrs.get("x-bapi-recv-window", "5000")
        if not key or key not in self.sim.api_keys:
            raise SimRejection(10003, "API key is invalid.")
        if not sign or not ts:
            raise SimRejection(10003, "API key is invalid. (missing X-BAPI-SIGN or X-BAPI-TIMESTAMP)")
        now = self.sim.wall_ms()
        try:
            ts_i, recv_i = int(ts), int(recv)
        except ValueError:
            raise SimRejection(10002, TIMESTAMP_MSG.format(ts=ts, now=now, recv=recv)) from None
        if not now - recv_i <= ts_i < now + 1000:
            raise SimRejection(10002, TIMESTAMP_MSG.format(ts=ts, now=now, recv=recv))
        payload = raw_query if method == "GET" else body.decode("utf-8", "replace")
        if not verify(self.sim.api_keys[key], ts, key, recv, payload, sign):
            raise SimRejection(10004, f"error sign! origin_string[{ts}{key}{recv}{payload}]")
        return key

    # -- faults ------------------------------------------------------------------------------------
    def dispatch(self, method: str, path: str, raw_query: str, headers: dict[str, str], body: bytes) -> RouteResult:
        """:meth:`handle` plus fault injection; the transport/server acts on ``RouteResult.action``."""
        with self.sim.lock:
            decision = self.sim.faults.decide(path)
        if decision.kind == "http5xx":
            if decision.json_body:
                text = json.dumps({"retCode": 10016, "retMsg": "Service Unavailable", "result": {},
                                   "retExtInfo": {}, "time": self.sim.wall_ms()}).encode()
                return RouteResult(decision.status, JSON_HEADERS, text, decision.latency_s)
            html = f"<html><body><h1>{decision.status} Bad Gateway</h1></body></html>".encode()
            return RouteResult(decision.status, {"Content-Type": "text/html"}, html, decision.latency_s)
        if decision.kind == "rate_limit":
            body_json = self.envelope(10006, "Too many visits!")
            now = self.sim.wall_ms()
            hdrs = {**JSON_HEADERS, "X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "0",
                    "X-Bapi-Limit-Reset-Timestamp": str(now + 1000)}
            return RouteResult(200, hdrs, json.dumps(body_json).encode(), decision.latency_s)
        if decision.kind == "drop":
            return RouteResult(0, {}, b"", decision.latency_s, "drop")
        status, hdrs, obj = self.handle(method, path, raw_query, headers, body)
        action = "lost" if decision.kind == "lost_response" else "respond"
        return RouteResult(status, hdrs, json.dumps(obj).encode(), decision.latency_s, action,
                       {"lost_sleep_s": self.sim.faults.lost_sleep_s})

    # -- control API -------------------------------------------------------------------------------
    def _control(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], Json]:
        sim = self.sim
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            if (method, path) == ("GET", "/sim/state"):
                return 200, JSON_HEADERS, sim.state()
            if (method, path) == ("POST", "/sim/price"):
                price = sim.set_price(str(data["symbol"]), Decimal(str(data["price"])), gap=bool(data.get("gap")))
                return 200, JSON_HEADERS, {"symbol": data["symbol"], "price": fmt(price), "time": sim.market_time()}
            if (method, path) == ("POST", "/sim/step"):
                n = sim.step(int(data.get("n", 1)))
                return 200, JSON_HEADERS, {"stepped": n, "time": sim.market_time(),
                                           "prices": {s: fmt(p) for s, p in sim.prices().items()}}
            if (method, path) == ("GET", "/sim/ws"):
                if sim.ws_url is None:
                    return 404, JSON_HEADERS, {"error": "no WebSocket server is running"}
                return 200, JSON_HEADERS, {"url": sim.ws_url}
            if (method, path) == ("POST", "/sim/stream-faults"):
                with sim.lock:
                    sim.stream_faults.configure(**data)
                    return 200, JSON_HEADERS, {"stream_faults": sim.stream_faults.as_dict()}
            if (method, path) == ("POST", "/sim/faults"):
                with sim.lock:
                    sim.faults.configure(**data)
                    return 200, JSON_HEADERS, {"faults": sim.faults.as_dict()}
        except (KeyError, ValueError, TypeError, ArithmeticError) as e:
            return 400, JSON_HEADERS, {"error": f"{type(e).__name__}: {e}"}
        return 404, JSON_HEADERS, {"error": f"unknown control endpoint {method} {path}"}
