"""Test helpers: raw Bybit-signed requests (built by hand with tradebot.bybit.auth.sign) against the simulator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from proving.sim import BookParams, Simulator
from tradebot.bybit.auth import sign

KEY, SECRET = "test-key", "test-secret"


def make_sim(**kw: Any) -> Simulator:
    kw.setdefault("price", Decimal("60000"))
    kw.setdefault("api_key", KEY)
    kw.setdefault("api_secret", SECRET)
    kw.setdefault("book", BookParams.zero())
    return Simulator(**kw)


def signed_headers(payload: str, key: str = KEY, secret: str = SECRET, ts: int | None = None,
                   recv: str = "5000") -> dict[str, str]:
    stamp = str(ts if ts is not None else int(time.time() * 1000))
    return {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": stamp, "X-BAPI-RECV-WINDOW": recv,
            "X-BAPI-SIGN": sign(secret, stamp, key, recv, payload), "X-BAPI-SIGN-TYPE": "2",
            "Content-Type": "application/json"}


def query(params: dict[str, Any]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()))


class SyncApi:
    """Signed raw requests over any sync httpx client (in-process transport or real HTTP)."""

    def __init__(self, client: httpx.Client) -> None:
        self.c = client

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        q = query(params)
        r = self.c.get(f"{path}?{q}" if q else path, headers=signed_headers(q))
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, **params: Any) -> dict[str, Any]:
        body = json.dumps(params)
        r = self.c.post(path, content=body, headers=signed_headers(body))
        assert r.status_code == 200, r.text
        return r.json()

    def ok(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        out = self.get(path, **params) if method == "GET" else self.post(path, **params)
        assert out["retCode"] == 0, out
        return out["result"]


class AsyncApi:
    """Signed raw requests over an httpx.AsyncClient."""

    def __init__(self, client: httpx.AsyncClient, clock: Callable[[], int] | None = None) -> None:
        self.c = client
        self.clock = clock  # the timestamp to sign with (ms): a simulator on a clock of its own is asked at its time

    def _ts(self) -> int | None:
        return None if self.clock is None else self.clock()

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        q = query(params)
        r = await self.c.get(f"{path}?{q}" if q else path, headers=signed_headers(q, ts=self._ts()))
        return r.json()

    async def post(self, path: str, **params: Any) -> dict[str, Any]:
        body = json.dumps(params)
        r = await self.c.post(path, content=body, headers=signed_headers(body, ts=self._ts()))
        return r.json()
