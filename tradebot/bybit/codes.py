"""Bybit v5 retCode table: each code a bot must handle → exception class and plain-words meaning.

Source: https://bybit-exchange.github.io/docs/v5/error (see ../shared/reference/bybit-v5.md §4).
"""

from __future__ import annotations

from tradebot.errors import (
    AuthError,
    BybitAPIError,
    InsufficientBalance,
    NotModified,
    OrderRejected,
    RateLimitError,
    RetryableError,
    TimestampError,
)

# code: (exception class, what it means for the user)
CODES: dict[int, tuple[type[BybitAPIError], str]] = {
    10000: (RetryableError, "server timeout"),
    10001: (BybitAPIError, "request parameter error"),
    10002: (TimestampError, "request timestamp outside the recv window (clock out of sync)"),
    10003: (AuthError, "invalid API key, or a key for another environment (mainnet/testnet/demo)"),
    10004: (AuthError, "signature error: the API secret does not match the key"),
    10005: (AuthError, "permission denied: the API key lacks the needed permission"),
    10006: (RateLimitError, "rate limit reached (too many requests)"),
    10007: (AuthError, "user authentication failed"),
    10010: (AuthError, "request IP not in the API key's IP whitelist"),
    10014: (BybitAPIError, "invalid duplicate request"),
    10016: (RetryableError, "Bybit server error or service restarting"),
    10017: (BybitAPIError, "route not found (wrong endpoint path)"),
    10018: (RateLimitError, "IP rate limit exceeded"),
    10027: (AuthError, "trading is banned for this account"),
    10029: (BybitAPIError, "symbol not in the API key's whitelist"),
    33004: (AuthError, "API key expired"),
    34040: (NotModified, "not modified: that TP/SL/trailing value is already set"),
    110001: (OrderRejected, "order does not exist or is already closed"),
    110003: (OrderRejected, "order price outside the allowed range"),
    110004: (InsufficientBalance, "wallet balance insufficient"),
    110006: (InsufficientBalance, "assets cannot cover the position margin"),
    110007: (InsufficientBalance, "available balance insufficient for this order"),
    110008: (OrderRejected, "order already completed or cancelled"),
    110009: (OrderRejected, "too many stop (conditional) orders"),
    110010: (OrderRejected, "order already cancelled"),
    110012: (InsufficientBalance, "insufficient available balance"),
    110013: (OrderRejected, "leverage too high for the current risk-limit tier"),
    110017: (OrderRejected, "reduce-only order would not reduce the position (position is zero or smaller)"),
    110020: (OrderRejected, "more than 500 active orders"),
    110025: (NotModified, "position mode already set"),
    110026: (NotModified, "margin mode already set"),
    110027: (NotModified, "margin not modified"),
    110040: (OrderRejected, "order would trigger forced liquidation"),
    110043: (NotModified, "leverage not modified (already set to that value)"),
    110044: (InsufficientBalance, "available margin insufficient"),
    110045: (InsufficientBalance, "wallet balance insufficient"),
    110057: (OrderRejected, "TP/SL not allowed in that order combination"),
    110058: (OrderRejected, "remaining position too small to set TP/SL"),
    110061: (OrderRejected, "more than 20 partial TP/SL orders"),
    110072: (OrderRejected, "duplicate orderLinkId (an order with this id already exists)"),
    110092: (OrderRejected, "trigger price inconsistent with direction (expected rising)"),
    110093: (OrderRejected, "trigger price inconsistent with direction (expected falling)"),
    110094: (OrderRejected, "order value below the instrument's minimum notional"),
    181017: (OrderRejected, "order status must be final"),
}

DUPLICATE_ORDER_LINK_ID = 110072
ORDER_NOT_FOUND = 110001


def error_for(code: int, message: str, path: str = "", reset_ms: int | None = None) -> BybitAPIError:
    """Build the typed exception for a non-zero retCode."""
    cls, meaning = CODES.get(code, (BybitAPIError, f"unknown Bybit error code {code}"))
    if cls is RateLimitError:
        return RateLimitError(code, message, meaning, path, reset_ms=reset_ms)
    return cls(code, message, meaning, path)


def meaning(code: int) -> str:
    """Plain-words meaning of a retCode ('' if unknown)."""
    return CODES.get(code, (BybitAPIError, ""))[1]
