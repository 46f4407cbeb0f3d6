"""WebSocket endpoints per environment (websocket/wss-authentication.mdx, demo.mdx) and the simulator's."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

log = logging.getLogger("tradebot.bybit.stream")

PUBLIC_PATH = "/v5/public/linear"
PRIVATE_PATH = "/v5/private"
# (public host, private host). Demo trading has private streams only; its public data is mainnet's.
HOSTS = {
    "mainnet": ("wss://stream.bybit.com", "wss://stream.bybit.com"),
    "testnet": ("wss://stream-testnet.bybit.com", "wss://stream-testnet.bybit.com"),
    "demo": ("wss://stream.bybit.com", "wss://stream-demo.bybit.com"),
}


@dataclass(frozen=True)
class StreamURLs:
    public: str
    private: str


def stream_urls(env: str, ws_base: str | None = None) -> StreamURLs:
    """``mainnet``/``testnet``/``demo`` → Bybit's stream URLs; a base URL → ``ws_base`` (or the same host) + paths."""
    if env in HOSTS:
        pub, priv = HOSTS[env]
        return StreamURLs(pub + PUBLIC_PATH, priv + PRIVATE_PATH)
    if not env.startswith(("http://", "https://", "ws://", "wss://")):
        raise ValueError(f"unknown Bybit environment {env!r}")
    base = (ws_base or env).rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[4:]
    return StreamURLs(base + PUBLIC_PATH, base + PRIVATE_PATH)


def discover_ws_base(http_base: str, timeout: float = 3.0) -> str | None:
    """Ask a simulator (``GET /sim/ws``) where its WebSocket server listens; None when it is not one."""
    try:
        with urllib.request.urlopen(http_base.rstrip("/") + "/sim/ws", timeout=timeout) as resp:  # noqa: S310
            url = json.loads(resp.read()).get("url")
    except (urllib.error.URLError, OSError, ValueError, AttributeError) as exc:
        log.debug("no simulator WebSocket discovery at %s: %s", http_base, exc)
        return None
    return url if isinstance(url, str) and url.startswith(("ws://", "wss://")) else None
