"""Bybit's REST hosts by network (guide.mdx "Authentication": mainnet and its regional hosts; demo.mdx: demo trading;
pybit's constants: demo on testnet), and which hosts plain ``http://`` may reach (this machine only)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

NETWORKS = {  # host → the network its orders trade on
    **dict.fromkeys(("api.bybit.com", "api.bytick.com", "api.bybit.nl", "api.bybit.tr", "api.bybit.kz",
                     "api.bybitgeorgia.ge", "api.bybit.ae", "api.bybit.eu", "api.bybit.id", "api.manepa.jp"),
                    "mainnet"),
    **dict.fromkeys(("api-testnet.bybit.com", "api-testnet.manepa.jp"), "testnet"),
    **dict.fromkeys(("api-demo.bybit.com", "api-demo-testnet.bybit.com"), "demo"),
}
STANDARD = {"api.bybit.com": "mainnet", "api-testnet.bybit.com": "testnet", "api-demo.bybit.com": "demo"}


def network_of(env: str) -> str | None:
    """``mainnet``/``testnet``/``demo`` for a named environment or a base URL on one of Bybit's hosts, else None."""
    if env in ("mainnet", "testnet", "demo"):
        return env
    try:
        host = urlsplit(env).hostname
    except ValueError:
        return None
    return NETWORKS.get((host or "").rstrip(".").lower())


def standard_name(url: str) -> str | None:
    """``mainnet``/``testnet``/``demo`` when ``url`` is exactly that network's standard REST endpoint (https on
    port 443), so the streams and everything else use that network's own hosts; else None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme.lower() != "https" or parts.port not in (None, 443):
        return None
    return STANDARD.get(host)


def is_loopback(host: str | None) -> bool:
    """True for this machine: ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
