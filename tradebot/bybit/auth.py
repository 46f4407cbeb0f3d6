"""Bybit v5 request signing (pure): HMAC-SHA256 over timestamp + key + recv window + payload."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

DEFAULT_RECV_WINDOW = 5000


def sign(secret: str, timestamp: str | int, api_key: str, recv_window: str | int, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``timestamp + api_key + recv_window + payload``.

    ``payload`` is the exact query string sent (GET) or the exact JSON body bytes sent (POST).
    """
    message = f"{timestamp}{api_key}{recv_window}{payload}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, api_key: str, recv_window: str, payload: str, signature: str) -> bool:
    """Constant-time check of a signature made by :func:`sign`."""
    return hmac.compare_digest(sign(secret, timestamp, api_key, recv_window, payload), signature.lower())


def ws_auth_signature(secret: str, expires: int) -> str:
    """Signature for the private WebSocket ``auth`` op: HMAC of ``GET/realtime{expires}``."""
    return hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()


def encode_query(params: Mapping[str, Any]) -> str:
    """Canonical GET query: keys sorted, ``None`` dropped, values as sent (no URL encoding needed for v5)."""
    return "&".join(f"{k}={_wire(v)}" for k, v in sorted(params.items()) if v is not None)


def encode_body(params: Mapping[str, Any]) -> str:
    """Compact JSON body; the exact string is both signed and sent."""
    return json.dumps({k: _json_value(v) for k, v in params.items() if v is not None}, separators=(",", ":"))


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, bool | int | str | float) or value is None:
        return value
    return str(value)  # Decimal and friends travel as strings, as Bybit expects
