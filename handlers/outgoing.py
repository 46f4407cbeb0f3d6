"""The one place every outgoing text is cut to Telegram's limits: message text 4096, captions 1024, callback answers
200 (UTF-16 code units, as Telegram counts). It is the Application's rate limiter (AIORateLimiter, which every
Bot API call already passes through), so no handler, job or edit can fail with "Message is too long".

Renderers split long answers into several messages (``formatting.split_message``); this guard only cuts what would
otherwise be refused, outside HTML tags and entities, closing the tags it leaves open, and marks the cut with "…".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

log = logging.getLogger("handlers.outgoing")
TEXT_LIMIT, CAPTION_LIMIT, ANSWER_LIMIT = 4096, 1024, 200
MARK = "…"
_TEXT_ENDPOINTS = {"sendMessage": TEXT_LIMIT, "editMessageText": TEXT_LIMIT, "answerCallbackQuery": ANSWER_LIMIT}
_TOKEN = re.compile(r"<[^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{1,8});|.", re.DOTALL)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def fit(text: str, limit: int, html: bool) -> str:
    """``text`` if it fits ``limit``; else its start, cut at a token boundary (never inside a tag or ``&entity;``),
    then "…" and the closing tags of what was left open: still valid Telegram HTML, at most ``limit`` units."""
    if units(text) <= limit:
        return text
    out: list[str] = []
    used, stack = 0, list[str]()  # stack: names of the open tags
    for m in _TOKEN.finditer(text):
        token, after = m.group(), stack
        tag = _TAG.match(token) if html and len(token) > 1 and token.startswith("<") else None
        if tag is not None:
            closing, name = tag.group(1) == "/", tag.group(2).lower()
            after = stack[:-1] if closing and stack and stack[-1] == name else stack if closing else [*stack, name]
        closers = sum(len(n) + 3 for n in after)
        if used + units(token) + units(MARK) + closers > limit:
            break
        out.append(token)
        used, stack = used + units(token), after
    return "".join(out) + MARK + "".join(f"</{n}>" for n in reversed(stack))


def fit_request(endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its text or caption cut to the endpoint's limit (the same dict when nothing needs cutting)."""
    html = str(data.get("parse_mode") or "").upper() == "HTML"
    changes: dict[str, str] = {}
    limit = _TEXT_ENDPOINTS.get(endpoint)
    if limit is not None and isinstance(data.get("text"), str):
        changes["text"] = fit(data["text"], limit, html and endpoint != "answerCallbackQuery")
    if isinstance(data.get("caption"), str):
        changes["caption"] = fit(data["caption"], CAPTION_LIMIT, html)
    changed = {k: v for k, v in changes.items() if v != data[k]}
    if not changed:
        return data
    for key, value in changed.items():
        log.warning("%s: %s of %d characters cut to Telegram's limit (%d)", endpoint, key, len(data[key]),
                    len(value))
    return {**data, **changed}


class FittingRateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter that first fits each request's text to Telegram's limits (``fit_request``)."""

    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Any]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Any:
        fitted = fit_request(endpoint, data)
        if fitted is not data:  # ExtBot calls callback(endpoint, data): hand it the fitted dict instead
            args = tuple(fitted if a is data else a for a in args)
        return await super().process_request(callback, args, kwargs, endpoint, fitted, rate_limit_args)
