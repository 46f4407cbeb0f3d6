"""One Bybit v5 WebSocket connection kept alive: auth, subscribe, ping, reconnect with backoff + jitter, hooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from tradebot.bybit.auth import ws_auth_signature
from tradebot.errors import ExchangeError

from .messages import BookGap, LocalBook, StreamEvent, TickerBook, parse_kline, parse_private

log = logging.getLogger("tradebot.bybit.stream")

EventHandler = Callable[[StreamEvent], Awaitable[None]]
ConnectHook = Callable[[int], Awaitable[None]]
PING_SECONDS = 20.0  # wss-authentication.mdx: "send the ping heartbeat packet every 20 seconds"
SUBSCRIBE_CHUNK = 10  # args per subscribe request (the strictest documented limit)


class AuthRefused(ExchangeError):
    """The private stream's ``auth`` op was answered with ``success: false``."""


@dataclass(frozen=True)
class Backoff:
    """Exponential reconnect delay with equal jitter: attempt n waits in [d/2, d], d = min(cap, base·2ⁿ⁻¹)."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        d = min(self.cap, self.base * 2.0 ** min(max(0, attempt - 1), 30))
        return d / 2 + rng.random() * d / 2


@dataclass(frozen=True)
class StreamStatus:
    """What /status shows: ``state`` is connecting, live, down or stopped; ages in seconds (None = never)."""

    name: str
    state: str
    last_message_age: float | None
    down_for: float | None
    reconnects: int
    error: str


def kline_topic(interval: str, symbol: str) -> str:
    return f"kline.{interval}.{symbol}"


def ticker_topic(symbol: str) -> str:
    return f"tickers.{symbol}"


def book_topic(depth: int, symbol: str) -> str:
    return f"orderbook.{depth}.{symbol}"


class StreamConnection:
    """Runs one stream until :meth:`stop`; never raises out of :meth:`run` (errors → reconnect).

    ``on_event`` gets every typed message. ``on_connect(n)`` runs (as its own task, so the socket keeps being
    read) after the n-th successful connect + subscribe — the place to reconcile through REST what may have
    been missed while disconnected. ``api_key``/``api_secret`` make it a private stream (auth first).
    """

    def __init__(self, name: str, url: str, topics: Iterable[str], on_event: EventHandler, *,
                 on_connect: ConnectHook | None = None, api_key: str = "", api_secret: str = "",
                 ping_seconds: float = PING_SECONDS, backoff: Backoff | None = None, open_timeout: float = 10.0,
                 ack_timeout: float = 10.0, clock: Callable[[], float] = time.time, seed: int | None = None) -> None:
        self.name, self.url = name, url
        self.topics: list[str] = list(dict.fromkeys(topics))
        self.on_event, self.on_connect = on_event, on_connect
        self._key, self._secret = api_key, api_secret
        self.ping_seconds, self.backoff = ping_seconds, backoff or Backoff()
        self.open_timeout, self.ack_timeout = open_timeout, ack_timeout
        self.clock = clock
        self._rng = random.Random(seed)
        self.state = "connecting"
        self.connects = 0
        self.last_message_at: float | None = None
        self.last_exchange_ms = 0  # creationTime/ts of the last data message: reconcile from here
        self.down_since: float | None = None
        self.error = ""
        self.failed_topics: dict[str, str] = {}
        self._ws: ClientConnection | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._hooks: set[asyncio.Task[None]] = set()
        self._req = 0
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tickers = TickerBook()
        self._books: dict[str, LocalBook] = {}

    @property
    def private(self) -> bool:
        return bool(self._key)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name=f"stream-{self.name}")
        return self._task

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for t in list(self._hooks):
            t.cancel()
        self.state = "stopped"

    @property
    def hooks_running(self) -> bool:
        """Whether an ``on_connect`` hook (e.g. the reconcile after a reconnect) is still running."""
        return any(not t.done() for t in self._hooks)

    def status(self) -> StreamStatus:
        now = self.clock()
        age = None if self.last_message_at is None else max(0.0, now - self.last_message_at)
        down = None if self.down_since is None else max(0.0, now - self.down_since)
        return StreamStatus(self.name, self.state, age, down, max(0, self.connects - 1), self.error)

    async def run(self) -> None:
        attempt = 0
        while not self._stopping:
            connects = self.connects
            try:
                async with connect(self.url, ping_interval=None, open_timeout=self.open_timeout,
                                   close_timeout=2, max_queue=None) as ws:
                    self._ws = ws
                    await self._session(ws)
                    attempt = 0
            except asyncio.CancelledError:
                raise
            except AuthRefused as exc:
                self.error = f"auth refused: {exc}"
                attempt = max(attempt, 6)  # a refused key will not fix itself in a second
            except (OSError, TimeoutError, WebSocketException, ExchangeError, ValueError) as exc:
                self.error = f"{type(exc).__name__}: {exc}"[:200]
            except Exception as exc:  # a bug must not end the stream for good: log it, reconnect
                log.exception("%s stream: unexpected error", self.name)
                self.error = f"{type(exc).__name__}: {exc}"[:200]
            finally:
                self._ws = None
                self._fail_acks()
                if self.connects > connects:  # it was live: the next attempt starts from the shortest delay
                    attempt = 0
            if self._stopping:
                break
            if self.state != "down":
                self.state = "down"
                self.down_since = self.clock()
                log.warning("%s stream down: %s", self.name, self.error or "connection closed")
            attempt += 1
            await asyncio.sleep(self.backoff.delay(attempt, self._rng))
        self.state = "stopped"

    async def _session(self, ws: ClientConnection) -> None:
        reader = asyncio.create_task(self._read(ws))
        try:
            if self.private:
                expires = int((self.clock() + 10) * 1000)
                res = await self._request(ws, "auth", [self._key, expires, ws_auth_signature(self._secret, expires)])
                if not res.get("success"):
                    raise AuthRefused(str(res.get("ret_msg") or "auth failed"))
            self._tickers.clear()
            self._books.clear()
            await self._subscribe(ws, self.topics)
            self.connects += 1
            self.state, self.down_since, self.error = "live", None, ""
            self.last_message_at = self.clock()
            log.info("%s stream live (%d topics, connect #%d)", self.name, len(self.topics), self.connects)
            if self.on_connect is not None:
                hook = asyncio.create_task(self._run_hook(self.connects))
                self._hooks.add(hook)
                hook.add_done_callback(self._hooks.discard)
            pinger = asyncio.create_task(self._ping(ws))
            try:
                await reader
            finally:
                pinger.cancel()
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    async def _run_hook(self, n: int) -> None:
        assert self.on_connect is not None
        try:
            await self.on_connect(n)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stream: reconnect hook failed", self.name)

    # -- requests ---------------------------------------------------------------------------------
    async def _request(self, ws: ClientConnection, op: str, args: list[Any]) -> dict[str, Any]:
        self._req += 1
        req_id = f"{self.name}-{self._req}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[req_id] = fut
        try:
            await ws.send(json.dumps({"req_id": req_id, "op": op, "args": args}))
            return await asyncio.wait_for(fut, self.ack_timeout)
        finally:
            self._acks.pop(req_id, None)
            if not fut.done():
                fut.cancel()
            elif not fut.cancelled():
                fut.exception()  # a close while sending failed it with nobody awaiting: retrieved, not "never retrieved"

    async def _subscribe(self, ws: ClientConnection, topics: list[str], op: str = "subscribe") -> None:
        for i in range(0, len(topics), SUBSCRIBE_CHUNK):
            chunk = topics[i:i + SUBSCRIBE_CHUNK]
            res = await self._request(ws, op, chunk)
            if not res.get("success"):
                msg = str(res.get("ret_msg") or f"{op} refused")
                for t in chunk:
                    self.failed_topics[t] = msg
                log.error("%s stream: %s %s refused: %s", self.name, op, chunk, msg)

    async def subscribe(self, topics: Iterable[str]) -> None:
        """Add topics (sent now when connected; always resubscribed on reconnect)."""
        new = [t for t in topics if t not in self.topics]
        self.topics.extend(new)
        if new and self._ws is not None and self.state == "live":
            await self._subscribe(self._ws, new)

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        gone = [t for t in topics if t in self.topics]
        self.topics = [t for t in self.topics if t not in gone]
        for t in gone:
            self._books.pop(t, None)
        if gone and self._ws is not None and self.state == "live":
            await self._subscribe(self._ws, gone, "unsubscribe")

    def _fail_acks(self) -> None:
        for fut in self._acks.values():
            if not fut.done():
                fut.set_exception(ConnectionError("stream closed before the answer"))
        self._acks.clear()

    # -- reading ----------------------------------------------------------------------------------
    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.ping_seconds)
            silent = self.clock() - (self.last_message_at or 0)
            if silent > 2 * self.ping_seconds:  # no pong, no data: the link is dead even if TCP says not
                log.warning("%s stream silent for %.0f s: reconnecting", self.name, silent)
                await ws.close()
                return
            self._req += 1
            await ws.send(json.dumps({"req_id": f"{self.name}-ping-{self._req}", "op": "ping"}))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            await self._read_all(ws)
        finally:
            self._fail_acks()

    async def _read_all(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self.last_message_at = self.clock()
            try:
                msg = json.loads(raw)
            except ValueError:
                log.warning("%s stream: not JSON: %r", self.name, str(raw)[:200])
                continue
            if not isinstance(msg, dict):
                continue
            if "topic" in msg:
                await self._dispatch(ws, msg)
                continue
            fut = self._acks.get(str(msg.get("req_id") or ""))
            if fut is None and msg.get("op") == "auth":  # some servers drop req_id from the auth answer
                fut = next((f for k, f in self._acks.items() if not f.done()), None)
            if fut is not None and not fut.done() and msg.get("op") not in ("ping", "pong"):
                fut.set_result(msg)

    async def _dispatch(self, ws: ClientConnection, msg: dict[str, Any]) -> None:
        topic = str(msg["topic"])
        try:
            events: list[StreamEvent] = []
            if self.private:
                ev = parse_private(msg)
                events = [ev] if ev is not None else []
            elif topic.startswith("kline."):
                events = list(parse_kline(msg))
            elif topic.startswith("tickers."):
                tk = self._tickers.apply(msg)
                events = [tk] if tk is not None else []
            elif topic.startswith("orderbook."):
                book = self._books.setdefault(topic, LocalBook(topic))
                bk = book.apply(msg)
                events = [bk] if bk is not None else []
            self.last_exchange_ms = max(self.last_exchange_ms, int(msg.get("creationTime") or msg.get("ts") or 0))
        except BookGap as gap:
            log.warning("%s stream: %s; resubscribing", self.name, gap)
            self._books.pop(topic, None)
            await ws.send(json.dumps({"op": "unsubscribe", "args": [topic]}))
            await ws.send(json.dumps({"op": "subscribe", "args": [topic]}))
            return
        except (ExchangeError, KeyError, ValueError, TypeError) as exc:
            log.warning("%s stream: bad %s message skipped: %s", self.name, topic, exc)
            return
        for ev in events:
            try:
                await self.on_event(ev)
            except Exception:
                log.exception("%s stream: handler failed on %s", self.name, type(ev).__name__)
