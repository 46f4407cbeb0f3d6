"""BybitClient: the one place that builds Bybit v5 requests (signing, envelope, typed errors, retries)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from tradebot.bybit import auth
from tradebot.bybit.codes import DUPLICATE_ORDER_LINK_ID, ORDER_NOT_FOUND, error_for
from tradebot.bybit.models import (
    ClosedPnl,
    Execution,
    Kline,
    Order,
    OrderAck,
    OrderBook,
    Position,
    Ticker,
    Wallet,
    instrument_from_api,
)
from tradebot.errors import (
    AuthError,
    BybitAPIError,
    ExchangeError,
    NotModified,
    OrderRejected,
    RateLimitError,
    RetryableError,
    TimestampError,
    TransportError,
)
from tradebot.instruments import Instrument, format_decimal

log = logging.getLogger("tradebot.bybit")

ENVIRONMENTS = {
    "mainnet": "https://api.bybit.com",
    "testnet": "https://api-testnet.bybit.com",
    "demo": "https://api-demo.bybit.com",
}
CATEGORY = "linear"
_LINK_ID_OK = re.compile(r"[^A-Za-z0-9_-]")


def resolve_base_url(env: str) -> str:
    """``mainnet``/``testnet``/``demo`` → Bybit's REST host; an http(s) URL is used as is (the simulator)."""
    if env in ENVIRONMENTS:
        return ENVIRONMENTS[env]
    if env.startswith(("http://", "https://")):
        return env.rstrip("/")
    raise ValueError(f"unknown Bybit environment {env!r}")


def order_link_id(*parts: str) -> str:
    """Deterministic orderLinkId for one intent (≤36 chars of [A-Za-z0-9_-]); same parts → same id."""
    raw = "-".join(_LINK_ID_OK.sub("", p) for p in parts if p)
    if len(raw) <= 36:
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
    return f"{raw[:25]}-{digest}"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


def _wire(v: Decimal | str | int | None) -> str | None:
    if v is None:
        return None
    return format_decimal(v) if isinstance(v, Decimal) else str(v)


class BybitClient:
    """Async Bybit v5 REST client for linear perpetuals. Results are typed, money is Decimal.

    Reads (and idempotent writes) retry with backoff on network errors, HTTP 5xx, 10000/10016,
    10006 (until ``X-Bapi-Limit-Reset-Timestamp``) and 10002 (after a clock resync). Business
    rejections are never retried. An order create whose outcome is unknown is looked up by its
    ``orderLinkId`` before anything is re-sent, and a re-send reuses the same id, so it cannot fill twice.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        recv_window: int = auth.DEFAULT_RECV_WINDOW,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self._key = api_key or ""
        self._secret = api_secret or ""
        self.recv_window = recv_window
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._offset_ms = 0
        self._synced = False
        self._limit_reset: dict[str, int] = {}
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def __aenter__(self) -> BybitClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ plumbing

    def _now_ms(self) -> int:
        return int(self._clock() * 1000) + self._offset_ms

    async def sync_time(self) -> int:
        """Measure the server clock offset via /v5/market/time; returns the offset in ms."""
        t0 = self._clock()
        res, envelope_time = await self._send("GET", "/v5/market/time", {}, private=False)
        t1 = self._clock()
        nano = res.get("timeNano")
        server_ms = int(nano) // 1_000_000 if nano else int(envelope_time)
        # Stamp a little behind the server: being 1 s ahead is a hard reject, behind has recv_window slack.
        self._offset_ms = server_ms - int((t0 + t1) / 2 * 1000) - 250
        self._synced = True
        log.debug("clock offset to Bybit: %d ms", self._offset_ms)
        return self._offset_ms

    async def _call(self, method: str, path: str, params: dict[str, Any], *, private: bool,
                    idempotent: bool = True) -> Any:
        if private and (not self._key or not self._secret):
            raise AuthError(10003, "no API key configured", "this call needs BYBIT_API_KEY and BYBIT_API_SECRET", path)
        attempt = 0
        while True:
            attempt += 1
            try:
                if private and not self._synced:
                    await self.sync_time()
                result, _ = await self._send(method, path, params, private=private)
                return result
            except TimestampError:
                if attempt >= self.retry.attempts:
                    raise
                await self.sync_time()
            except RateLimitError as exc:
                if attempt >= self.retry.attempts:
                    raise
                wait = ((exc.reset_ms or 0) - self._now_ms()) / 1000 if exc.reset_ms else 0
                await self._sleep(max(self.retry.delay(attempt), min(wait, 10.0)))
            except (TransportError, RetryableError) as exc:
                if not idempotent or attempt >= self.retry.attempts:
                    raise
                log.warning("retrying %s %s after: %s", method, path, exc)
                await self._sleep(self.retry.delay(attempt))

    async def _send(self, method: str, path: str, params: dict[str, Any], *, private: bool) -> tuple[Any, int]:
        reset = self._limit_reset.pop(path, None)
        if reset and (wait := (reset - self._now_ms()) / 1000) > 0:
            await self._sleep(min(wait, 10.0))
        headers: dict[str, str] = {}
        content: str | None = None
        url = path
        if method == "GET":
            payload = auth.encode_query(params)
            if payload:
                url = f"{path}?{payload}"
        else:
            payload = content = auth.encode_body(params)
            headers["Content-Type"] = "application/json"
        if private:
            ts = str(self._now_ms())
            headers.update({
                "X-BAPI-API-KEY": self._key,
                "X-BAPI-TIMESTAMP": ts,
                "X-BAPI-RECV-WINDOW": str(self.recv_window),
                "X-BAPI-SIGN": auth.sign(self._secret, ts, self._key, self.recv_window, payload),
            })
        log.debug("%s %s", method, url)
        try:
            resp = await self._http.request(method, url, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransportError(f"timeout on {method} {path} (outcome unknown)") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"network error on {method} {path}: {type(exc).__name__}") from exc
        return self._parse(resp, path)

    def _parse(self, resp: httpx.Response, path: str) -> tuple[Any, int]:
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransportError(f"HTTP {resp.status_code} from Bybit on {path}")
        if resp.status_code == 401:
            raise AuthError(10003, "HTTP 401", "API key rejected or auth headers missing", path)
        if resp.status_code == 403:
            raise ExchangeError(f"HTTP 403 from Bybit on {path}: IP rate limit, region block or forbidden request")
        if resp.status_code == 404:
            raise BybitAPIError(10017, "HTTP 404", "route not found (wrong endpoint path)", path)
        try:
            body = resp.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ExchangeError(f"malformed JSON from Bybit on {path} (HTTP {resp.status_code})") from exc
        if not isinstance(body, dict) or "retCode" not in body:
            raise ExchangeError(f"unexpected response shape from Bybit on {path}")
        status = resp.headers.get("X-Bapi-Limit-Status")
        reset_hdr = resp.headers.get("X-Bapi-Limit-Reset-Timestamp")
        reset_ms = int(reset_hdr) if reset_hdr and reset_hdr.isdigit() else None
        if status == "0" and reset_ms:
            self._limit_reset[path] = reset_ms
        code = body.get("retCode")
        if not isinstance(code, int):
            raise ExchangeError(f"unexpected retCode {code!r} from Bybit on {path}")
        if code != 0:
            message = str(body.get("retMsg", ""))
            for secret in (self._key, self._secret):  # 10004 echoes origin_string[<ts><API key>...]: never pass it on
                if len(secret) >= 4:
                    message = message.replace(secret, "***")
            err = error_for(code, message, path, reset_ms)
            log.warning("%s", err)
            raise err
        result = body.get("result")
        return (result if result is not None else {}), int(body.get("time") or 0)

    async def _paged(self, path: str, params: dict[str, Any], *, limit: int, max_items: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = None
        while len(rows) < max_items:
            page = await self._call("GET", path, {**params, "limit": limit, "cursor": cursor}, private=True)
            rows.extend(page.get("list") or [])
            cursor = page.get("nextPageCursor") or None
            if not cursor:
                break
        return rows[:max_items]

    # ------------------------------------------------------------------ market (public)

    async def server_time_ms(self) -> int:
        res, t = await self._send("GET", "/v5/market/time", {}, private=False)
        return int(res["timeNano"]) // 1_000_000 if res.get("timeNano") else t

    async def klines(self, symbol: str, interval: str, *, limit: int = 200,
                     start_ms: int | None = None, end_ms: int | None = None) -> list[Kline]:
        """Candles OLDEST FIRST (Bybit sends newest first; reversed here). The last one may still be forming."""
        res = await self._call("GET", "/v5/market/kline", {
            "category": CATEGORY, "symbol": symbol, "interval": interval, "limit": limit,
            "start": start_ms, "end": end_ms}, private=False)
        rows = [Kline.from_api(r) for r in res.get("list") or []]
        bad = next((k for k in rows if min(k.open, k.high, k.low, k.close) <= 0 or k.low > k.high), None)
        if bad is not None:  # absurd data must never reach the strategy or the sizing
            raise ExchangeError(f"absurd {symbol} candle from Bybit at {bad.start_ms}: open {bad.open} high {bad.high} "
                                f"low {bad.low} close {bad.close} (prices must be > 0, low <= high)")
        rows.sort(key=lambda k: k.start_ms)
        return rows

    async def ticker(self, symbol: str) -> Ticker:
        res = await self._call("GET", "/v5/market/tickers", {"category": CATEGORY, "symbol": symbol}, private=False)
        rows = res.get("list") or []
        if not rows:
            raise ExchangeError(f"no ticker for {symbol}")
        ticker = Ticker.from_api(rows[0])
        if ticker.last_price <= 0:
            raise ExchangeError(f"absurd {symbol} ticker from Bybit: last price {ticker.last_price}")
        return ticker

    async def orderbook(self, symbol: str, limit: int = 50) -> OrderBook:
        res = await self._call("GET", "/v5/market/orderbook",
                               {"category": CATEGORY, "symbol": symbol, "limit": limit}, private=False)
        return OrderBook.from_api(res)

    async def instrument(self, symbol: str) -> Instrument:
        res = await self._call("GET", "/v5/market/instruments-info",
                               {"category": CATEGORY, "symbol": symbol}, private=False)
        rows = res.get("list") or []
        if not rows:
            raise ExchangeError(f"unknown symbol {symbol}: Bybit has no linear instrument by that name")
        return instrument_from_api(rows[0])

    # ------------------------------------------------------------------ orders (private)

    async def place_order(
        self, *, symbol: str, side: str, qty: Decimal, order_link_id: str, order_type: str = "Market",
        price: Decimal | None = None, take_profit: Decimal | None = None, stop_loss: Decimal | None = None,
        tpsl_mode: str | None = None, tp_trigger_by: str | None = None, sl_trigger_by: str | None = None,
        reduce_only: bool = False, close_on_trigger: bool = False, time_in_force: str | None = None,
        position_idx: int = 0,
    ) -> OrderAck:
        """Create an order. Accepted is not filled: confirm with :meth:`wait_order`."""
        if side not in ("Buy", "Sell"):
            raise ValueError(f"side must be 'Buy' or 'Sell', not {side!r}")
        if not order_link_id:
            raise ValueError("every order needs an orderLinkId")
        with_tpsl = take_profit is not None or stop_loss is not None
        body = {
            "category": CATEGORY, "symbol": symbol, "side": side, "orderType": order_type,
            "qty": _wire(qty), "price": _wire(price) if order_type == "Limit" else None,
            "timeInForce": time_in_force, "positionIdx": position_idx, "orderLinkId": order_link_id,
            "takeProfit": _wire(take_profit), "stopLoss": _wire(stop_loss),
            "tpslMode": (tpsl_mode or "Full") if with_tpsl else None,
            "tpTriggerBy": tp_trigger_by if take_profit is not None else None,
            "slTriggerBy": sl_trigger_by if stop_loss is not None else None,
            "reduceOnly": True if reduce_only else None, "closeOnTrigger": True if close_on_trigger else None,
        }
        for attempt in range(1, self.retry.attempts + 1):
            try:
                res = await self._call("POST", "/v5/order/create", body, private=True, idempotent=False)
                return OrderAck(res.get("orderId", ""), res.get("orderLinkId", order_link_id))
            except OrderRejected as exc:
                if exc.code != DUPLICATE_ORDER_LINK_ID:
                    raise
                found = await self.get_order(symbol, order_link_id=order_link_id)
                if found is None:
                    raise
                log.info("order %s already exists (duplicate orderLinkId): not sent again", order_link_id)
                return OrderAck(found.order_id, found.order_link_id)
            except (TransportError, RetryableError) as exc:
                log.warning("order %s outcome unknown (%s): looking it up before any re-send", order_link_id, exc)
                found = await self.get_order(symbol, order_link_id=order_link_id)
                if found is not None:
                    return OrderAck(found.order_id, found.order_link_id)
                if attempt >= self.retry.attempts:
                    raise
                await self._sleep(self.retry.delay(attempt))
            except BybitAPIError:
                raise
            except ExchangeError as exc:  # malformed / unexpected answer: the order may exist; look, never re-send
                log.warning("order %s got an unreadable answer (%s): looking it up", order_link_id, exc)
                found = await self.get_order(symbol, order_link_id=order_link_id)
                if found is not None:
                    return OrderAck(found.order_id, found.order_link_id)
                raise
        raise AssertionError("unreachable")

    async def cancel_order(self, symbol: str, *, order_id: str | None = None,
                           order_link_id: str | None = None) -> bool:
        """Cancel; False when the order was already final or unknown (110001)."""
        try:
            await self._call("POST", "/v5/order/cancel", {
                "category": CATEGORY, "symbol": symbol, "orderId": order_id, "orderLinkId": order_link_id},
                private=True)
        except OrderRejected as exc:
            if exc.code == ORDER_NOT_FOUND:
                return False
            raise
        return True

    async def get_order(self, symbol: str, *, order_id: str | None = None,
                        order_link_id: str | None = None) -> Order | None:
        """One order by id from realtime (open and recent), falling back to history; None if Bybit has none."""
        params = {"category": CATEGORY, "symbol": symbol, "orderId": order_id, "orderLinkId": order_link_id}
        for path in ("/v5/order/realtime", "/v5/order/history"):
            res = await self._call("GET", path, params, private=True)
            rows = res.get("list") or []
            if rows:
                return Order.from_api(rows[0])
        return None

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        params = {"category": CATEGORY, "symbol": symbol, "settleCoin": None if symbol else "USDT", "openOnly": 0}
        return [Order.from_api(r) for r in await self._paged("/v5/order/realtime", params, limit=50, max_items=500)]

    async def order_history(self, symbol: str | None = None, *, limit: int = 50) -> list[Order]:
        params = {"category": CATEGORY, "symbol": symbol}
        return [Order.from_api(r) for r in await self._paged("/v5/order/history", params, limit=50, max_items=limit)]

    async def wait_order(self, symbol: str, *, order_id: str | None = None, order_link_id: str | None = None,
                         wait_s: float = 5.0, poll: float = 0.2) -> Order | None:
        """Poll until the order is final (or ``wait_s`` passes); returns the last state seen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        last = None
        while True:
            last = await self.get_order(symbol, order_id=order_id, order_link_id=order_link_id) or last
            if (last and last.is_final) or loop.time() >= deadline:
                return last
            await self._sleep(poll)

    async def executions(self, symbol: str | None = None, *, order_id: str | None = None,
                         start_ms: int | None = None, end_ms: int | None = None, exec_type: str | None = None,
                         max_items: int = 500) -> list[Execution]:
        """Fills, newest first. Funding fees arrive as execType 'Funding'."""
        params = {"category": CATEGORY, "symbol": symbol, "orderId": order_id, "startTime": start_ms,
                  "endTime": end_ms, "execType": exec_type}
        rows = await self._paged("/v5/execution/list", params, limit=100, max_items=max_items)
        return [Execution.from_api(r) for r in rows]

    # ------------------------------------------------------------------ positions and account (private)

    async def positions(self, symbol: str | None = None) -> list[Position]:
        """Open positions only (size > 0): Bybit also returns flat rows when asked by symbol."""
        params = {"category": CATEGORY, "symbol": symbol, "settleCoin": None if symbol else "USDT"}
        rows = await self._paged("/v5/position/list", params, limit=200, max_items=1000)
        return [p for p in (Position.from_api(r) for r in rows) if p.is_open]

    async def set_trading_stop(
        self, *, symbol: str, take_profit: Decimal | None = None, stop_loss: Decimal | None = None,
        trailing_stop: Decimal | None = None, active_price: Decimal | None = None,
        tp_trigger_by: str | None = None, sl_trigger_by: str | None = None, position_idx: int = 0,
    ) -> bool:
        """Set TP/SL/trailing on the position (Full mode). ``trailing_stop`` is a price DISTANCE.

        Returns False when Bybit says nothing changed (34040), which is not an error.
        """
        body = {"category": CATEGORY, "symbol": symbol, "tpslMode": "Full", "positionIdx": position_idx,
                "takeProfit": _wire(take_profit), "stopLoss": _wire(stop_loss),
                "trailingStop": _wire(trailing_stop), "activePrice": _wire(active_price),
                "tpTriggerBy": tp_trigger_by, "slTriggerBy": sl_trigger_by}
        try:
            await self._call("POST", "/v5/position/trading-stop", body, private=True)
        except NotModified:
            return False
        return True

    async def set_leverage(self, symbol: str, leverage: Decimal) -> bool:
        """Set buy and sell leverage (one-way mode); False when already set (110043)."""
        lev = _wire(leverage)
        try:
            await self._call("POST", "/v5/position/set-leverage", {
                "category": CATEGORY, "symbol": symbol, "buyLeverage": lev, "sellLeverage": lev}, private=True)
        except NotModified:
            return False
        return True

    async def closed_pnl(self, symbol: str | None = None, *, start_ms: int | None = None,
                         end_ms: int | None = None, max_items: int = 200) -> list[ClosedPnl]:
        """Closed-position records, newest first (closedPnl is net of open and close fees)."""
        params = {"category": CATEGORY, "symbol": symbol, "startTime": start_ms, "endTime": end_ms}
        rows = await self._paged("/v5/position/closed-pnl", params, limit=100, max_items=max_items)
        return [ClosedPnl.from_api(r) for r in rows]

    async def wallet(self, coin: str = "USDT") -> Wallet:
        """UNIFIED wallet balance (Bybit removed CONTRACT from wallet-balance in late 2025)."""
        res = await self._call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED", "coin": coin},
                               private=True)
        return Wallet.from_api(res, coin)
