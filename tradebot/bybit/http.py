"""Bybit v5 HTTP plumbing: base URLs, clock sync, signing the exact bytes sent, envelope → typed errors, retries."""

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
from typing import Any, Self

import httpx

from tradebot.bybit import auth
from tradebot.bybit.codes import error_for
from tradebot.errors import (
    AuthError,
    BybitAPIError,
    ExchangeError,
    RateLimitError,
    RetryableError,
    TimestampError,
    TransportError,
)
from tradebot.sizing.instruments import format_decimal

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
        return min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))


def _wire(v: Decimal | str | int | None) -> str | None:
    if v is None:
        return None
    return format_decimal(v) if isinstance(v, Decimal) else str(v)


class BybitHTTP:
    """Signed requests, envelope checks, typed errors, retries and pagination for Bybit v5 REST."""

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

    async def __aenter__(self) -> Self:
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

