"""In-process httpx transports (async and sync) that call the simulator's router directly, no sockets."""

from __future__ import annotations

import asyncio
import time

import httpx

from .host import RouteResult, SimHost


def _route(sim: SimHost, request: httpx.Request, body: bytes) -> RouteResult:
    headers = {k: v for k, v in request.headers.items()}
    return sim.router.dispatch(request.method, request.url.path, request.url.query.decode(), headers, body)


def _response(out: RouteResult, request: httpx.Request) -> httpx.Response:
    """Turn a RouteResult into a response, or raise the httpx error a real network failure would cause."""
    if out.action == "drop":
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    if out.action == "lost":
        raise httpx.ReadTimeout("simulated: request committed but the response was lost", request=request)
    return httpx.Response(out.status, headers=out.headers, content=out.body, request=request)


class AsyncSimTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(base_url="http://sim", transport=sim.transport())``."""

    def __init__(self, sim: SimHost) -> None:
        self.sim = sim

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        out = _route(self.sim, request, body)
        if out.delay_s:
            await asyncio.sleep(out.delay_s)
        return _response(out, request)


class SyncSimTransport(httpx.BaseTransport):
    """``httpx.Client(base_url="http://sim", transport=sim.sync_transport())``."""

    def __init__(self, sim: SimHost) -> None:
        self.sim = sim

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        out = _route(self.sim, request, body)
        if out.delay_s:
            time.sleep(out.delay_s)
        return _response(out, request)
