"""Exception tree shared by the core, the client, the handlers and the CLI."""

from __future__ import annotations


class TradebotError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(TradebotError):
    """Bad configuration: names the key, the bad value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"config {key}={value!r} is invalid: {allowed}")


class UserError(TradebotError):
    """A request the user can fix; its message is shown in chat as is."""


class ArgumentError(UserError):
    """A command argument that is not allowed; the chat adds the command's usage line and allowed range."""


class OrderRuleError(UserError):
    """An order that breaks the instrument's rules (min qty, min notional, step); nothing was sent."""


class ExchangeError(TradebotError):
    """Anything that went wrong talking to the exchange."""


class TransportError(ExchangeError):
    """Network failure, timeout or HTTP 5xx: the request's outcome may be unknown."""


class BybitAPIError(ExchangeError):
    """Bybit answered with retCode != 0. ``meaning`` is the plain-words explanation of the code."""

    def __init__(self, code: int, message: str, meaning: str = "", path: str = "") -> None:
        self.code, self.message, self.meaning, self.path = code, message, meaning, path
        text = f"Bybit error {code} on {path or 'request'}: {meaning or message}"
        if meaning and message and message.lower() not in meaning.lower():
            text += f" ({message})"
        super().__init__(text)


class RetryableError(BybitAPIError):
    """Server-side trouble worth retrying (10000, 10016)."""


class RateLimitError(RetryableError):
    """10006: too many visits; ``reset_ms`` is when the window resets."""

    def __init__(self, code: int, message: str, meaning: str = "", path: str = "", reset_ms: int | None = None):
        super().__init__(code, message, meaning, path)
        self.reset_ms = reset_ms


class TimestampError(RetryableError):
    """10002: request time outside the recv window; resync the clock and retry."""


class AuthError(BybitAPIError):
    """10003/10004/10005/10007/10010/33004: key, signature, permission or IP problem. Stop and alert."""


class OrderRejected(BybitAPIError):
    """The exchange refused an order or a stop change for a business reason. Never retried."""


class InsufficientBalance(OrderRejected):
    """110004/110006/110007/110012/110044/110045: not enough balance or margin."""


class NotModified(BybitAPIError):
    """34040/110043/110025/110026/110027: already in the requested state; callers treat it as success."""


def no_position(symbol: str, entering: bool) -> str:
    """What a command about ``symbol``'s position says when there is none (yet: an approved entry still resting)."""
    if entering:
        return (f"No open {symbol} position yet: an approved entry is still being placed (its card shows the "
                "result). Try again once it has filled.")
    return f"No open {symbol} position."
