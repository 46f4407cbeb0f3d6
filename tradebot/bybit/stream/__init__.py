"""Bybit v5 WebSocket streams: the private (order/execution/position/wallet) and public (kline/tickers/orderbook) feeds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TypedDict, Unpack

from .connection import (
    AuthRefused,
    Backoff,
    ConnectHook,
    EventHandler,
    StreamConnection,
    StreamStatus,
    book_topic,
    kline_topic,
    ticker_topic,
)
from .messages import (
    PRIVATE_TOPICS,
    BookUpdate,
    Candle,
    Executions,
    Orders,
    Positions,
    StreamEvent,
    TickerUpdate,
    WalletUpdate,
)
from .urls import PRIVATE_PATH, PUBLIC_PATH, StreamURLs, discover_ws_base, stream_urls

__all__ = [
    "PRIVATE_PATH", "PRIVATE_TOPICS", "PUBLIC_PATH", "AuthRefused", "Backoff", "BookUpdate", "Candle", "ConnectHook", "EventHandler",
    "Executions", "Orders", "Positions", "StreamConnection", "StreamEvent", "StreamStatus", "StreamURLs",
    "TickerUpdate", "WalletUpdate", "book_topic", "kline_topic", "private_stream", "public_stream",
    "resolve_stream_urls", "stream_urls", "ticker_topic",
]


async def resolve_stream_urls(env: str) -> StreamURLs:
    """Named environments map to Bybit's hosts; a base URL asks the simulator for its WebSocket address."""
    if env.startswith(("http://", "https://")):
        return stream_urls(env, await asyncio.to_thread(discover_ws_base, env))
    return stream_urls(env)


class Options(TypedDict, total=False):
    """A connection's tuning (``StreamConnection``'s keywords; each has its default there)."""

    ping_seconds: float
    backoff: Backoff | None
    open_timeout: float
    ack_timeout: float
    clock: Callable[[], float]
    seed: int | None


def private_stream(url: str, api_key: str, api_secret: str, on_event: EventHandler, *,
                   on_connect: ConnectHook | None = None, **kw: Unpack[Options]) -> StreamConnection:
    """The authenticated stream subscribed to order, execution, position and wallet."""
    if not api_key or not api_secret:
        raise ValueError("the private stream needs an API key and secret")
    return StreamConnection("private", url, PRIVATE_TOPICS, on_event, on_connect=on_connect, api_key=api_key,
                            api_secret=api_secret, **kw)


def public_stream(url: str, topics: Iterable[str], on_event: EventHandler, *,
                  on_connect: ConnectHook | None = None, **kw: Unpack[Options]) -> StreamConnection:
    """The public linear stream (``kline_topic``/``ticker_topic``/``book_topic`` topics)."""
    return StreamConnection("public", url, topics, on_event, on_connect=on_connect, **kw)
