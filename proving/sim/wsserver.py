"""The simulator's Bybit v5 WebSocket server: /v5/private and /v5/public/linear on a second port (own thread)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tradebot.bybit.auth import ws_auth_signature

from .host import SimHost
from .publish import BOOK_DEPTHS

PUBLIC, PRIVATE = "/v5/public/linear", "/v5/private"
PRIVATE_TOPICS = {"order", "execution", "position", "wallet"}
IDLE_SECONDS = 600.0  # wss-authentication.mdx: no ping-pong and no data for 10 minutes → cut off
_ALIVE = re.compile(r"^(\d+)([sm])$")


@dataclass(eq=False)
class _Conn:
    ws: ServerConnection
    path: str
    conn_id: str
    idle_s: float
    authed: bool = False
    topics: set[str] = field(default_factory=set)
    queue: asyncio.Queue[tuple[str | None, str]] = field(default_factory=asyncio.Queue)
    last_active: float = field(default_factory=time.monotonic)


def max_active_time(query: str) -> float | None:
    """``max_active_time=30s..600s`` (or ``1m``..``10m``) on the private URL; None when absent or invalid."""
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "max_active_time" and (m := _ALIVE.match(value)):
            secs = int(m.group(1)) * (60 if m.group(2) == "m" else 1)
            return float(min(600, max(30, secs)))
    return None


class StreamServer:
    """A running WebSocket server for one Simulator: ``.url``, ``.port``, ``.close()`` (context manager too).

    ``idle_seconds`` overrides Bybit's 10-minute idle cut-off (tests use a short one).
    """

    def __init__(self, sim: SimHost, host: str = "127.0.0.1", port: int = 0,
                 idle_seconds: float = IDLE_SECONDS) -> None:
        self.sim, self.idle_seconds = sim, idle_seconds
        self.faults = sim.stream_faults
        self.conns: set[_Conn] = set()
        self._closing: dict[_Conn, asyncio.Task[None]] = {}
        self._public: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sim-ws", daemon=True)
        self._thread.start()
        self._server: Server = asyncio.run_coroutine_threadsafe(self._start(host, port), self._loop).result(10)
        self.host, self.port = host, self._server.sockets[0].getsockname()[1]
        self.url = f"ws://{host}:{self.port}"
        with sim.lock:
            sim.ws_url = self.url
            sim.publisher.sinks.append(self._publish)
            sim.publisher.wanted = self._public.__contains__

    async def _start(self, host: str, port: int) -> Server:
        self._watch = asyncio.create_task(self._watchdog())
        return await serve(self._handler, host, port, process_request=self._gate, ping_interval=None,
                           max_queue=None, compression=None)

    def close(self) -> None:
        with self.sim.lock:
            if self._publish in self.sim.publisher.sinks:
                self.sim.publisher.sinks.remove(self._publish)
            self.sim.publisher.wanted = lambda topic: False
            self.sim.ws_url = None

        async def stop() -> None:
            self._watch.cancel()
            self._server.close()
            await self._server.wait_closed()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> StreamServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- publishing (called from simulator threads with the lock held) ------------------------------
    def _publish(self, topic: str, msg: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self._fanout, topic, json.dumps(msg))

    def _fanout(self, topic: str, text: str) -> None:
        for c in self.conns:
            if topic in c.topics:
                c.queue.put_nowait((topic, text))

    # -- connections --------------------------------------------------------------------------------
    def _gate(self, conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        if path not in (PUBLIC, PRIVATE):
            return conn.respond(404, "Not Found\n")
        if self.faults.is_down(path):
            return Response(503, "Service Unavailable", Headers(), b"stream down (simulated)\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path, _, query = ws.request.path.partition("?")
        idle = self.idle_seconds
        if path == PRIVATE and (alive := max_active_time(query)) is not None:
            idle = min(idle, alive) if self.idle_seconds < IDLE_SECONDS else alive
        conn = _Conn(ws, path, f"{uuid.uuid4()}-{next(self._ids)}", idle)
        self.conns.add(conn)
        sender = asyncio.create_task(self._sender(conn))
        try:
            async for raw in ws:
                conn.last_active = time.monotonic()
                await self._on_op(conn, raw)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            self.conns.discard(conn)
            for t in conn.topics:
                self._unwant(t)

    async def _sender(self, conn: _Conn) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                topic, text = await conn.queue.get()
                if latency := self.faults.latency(conn.path):
                    await asyncio.sleep(latency)
                if topic is not None:
                    kind, delay = self.faults.on_message(conn.path, topic)
                    if delay:
                        await asyncio.sleep(delay)
                    if kind == "drop":
                        conn.ws.transport.abort()
                        return
                    if kind == "lose":
                        continue
                    conn.last_active = time.monotonic()
                await conn.ws.send(text)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            for c in list(self.conns):
                if self.faults.is_down(c.path):
                    c.ws.transport.abort()
                elif now - c.last_active > c.idle_s and c not in self._closing:
                    # the close handshake runs on its own task; the watchdog keeps watching the others
                    self._closing[c] = asyncio.create_task(c.ws.close(1000, "idle"))
                    self._closing[c].add_done_callback(functools.partial(self._closed, c))

    def _closed(self, conn: _Conn, _task: asyncio.Task[None]) -> None:
        self._closing.pop(conn, None)

    # -- ops ----------------------------------------------------------------------------------------
    def _reply(self, conn: _Conn, msg: dict[str, Any]) -> None:
        conn.queue.put_nowait((None, json.dumps(msg)))

    async def _on_op(self, conn: _Conn, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
            op, args, req_id = msg.get("op"), msg.get("args") or [], msg.get("req_id")
        except (ValueError, AttributeError):
            self._reply(conn, {"success": False, "ret_msg": "error:request parse failed", "conn_id": conn.conn_id,
                               "op": ""})
            return
        base = {"conn_id": conn.conn_id, "op": op} | ({"req_id": req_id} if req_id is not None else {})
        if op == "ping":
            if conn.path == PRIVATE:
                self._reply(conn, {"req_id": req_id or "", "op": "pong", "args": [str(self.sim.wall_ms())],
                                   "conn_id": conn.conn_id})
            else:
                self._reply(conn, {"success": True, "ret_msg": "pong", "conn_id": conn.conn_id,
                                   "req_id": req_id or "", "op": "ping"})
        elif op == "auth":
            ok = conn.path == PRIVATE and not conn.authed and self._auth_ok(args) and not self.faults.refuse(PRIVATE)
            conn.authed = conn.authed or ok
            self._reply(conn, {"success": ok, "ret_msg": "" if ok else "Params Error", **base})
        elif op in ("subscribe", "unsubscribe"):
            self._subscribe(conn, op, [str(a) for a in args], base)
        else:
            self._reply(conn, {"success": False, "ret_msg": f"error:invalid op {op}", **base})

    def _auth_ok(self, args: list[Any]) -> bool:
        if len(args) != 3:
            return False
        key, expires, sig = args
        secret = self.sim.api_keys.get(str(key))
        try:
            exp = int(expires)
        except (TypeError, ValueError):
            return False
        return secret is not None and exp > self.sim.wall_ms() and ws_auth_signature(secret, exp) == str(sig)

    def _valid(self, conn: _Conn, topic: str) -> bool:
        if conn.path == PRIVATE:
            return topic.removesuffix(".linear") in PRIVATE_TOPICS
        parts = topic.split(".")
        if len(parts) == 2 and parts[0] == "tickers":
            return parts[1] in self.sim.feeds
        if len(parts) != 3 or parts[2] not in self.sim.feeds:
            return False
        if parts[0] == "orderbook":
            return parts[1].isdigit() and int(parts[1]) in BOOK_DEPTHS
        if parts[0] == "kline":
            try:
                self.sim.feeds[parts[2]].klines(parts[1], None, None, 1)
            except (ValueError, KeyError):
                return False
            return True
        return False

    def _subscribe(self, conn: _Conn, op: str, topics: list[str], base: dict[str, Any]) -> None:
        if conn.path == PRIVATE and not conn.authed:
            self._reply(conn, {"success": False, "ret_msg": "Request not authorized", **base})
            return
        bad = [t for t in topics if not self._valid(conn, t)]
        if bad:
            self._reply(conn, {"success": False, "ret_msg": f"error:handler not found,topic:{bad[0]}", **base})
            return
        if op == "subscribe":
            dup = [t for t in topics if self._key(conn, t) in conn.topics]
            if dup:
                self._reply(conn, {"success": False, "ret_msg": f"error:already subscribed,topic:{dup[0]}", **base})
                return
        self._reply(conn, {"success": True, "ret_msg": "", **base})
        for t in topics:
            key = self._key(conn, t)
            if op == "unsubscribe":
                if key in conn.topics:
                    conn.topics.discard(key)
                    self._unwant(key)
                continue
            conn.topics.add(key)
            if conn.path == PUBLIC:
                self._public[key] = self._public.get(key, 0) + 1
                with self.sim.lock:
                    for m in self.sim.publisher.snapshot(key):
                        conn.queue.put_nowait((key, json.dumps(m)))

    @staticmethod
    def _key(conn: _Conn, topic: str) -> str:
        return topic.removesuffix(".linear") if conn.path == PRIVATE else topic

    def _unwant(self, topic: str) -> None:
        if topic in self._public:
            self._public[topic] -= 1
            if self._public[topic] <= 0:
                del self._public[topic]
