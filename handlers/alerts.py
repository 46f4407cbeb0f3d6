"""Core events → durable outbox rows (never blocks trading); the drain job delivers them with retries."""

from __future__ import annotations

import html
import logging
import re
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from handlers.buttons import markup
from handlers.deps import Deps, wall_now
from storage.db import session_scope
from storage.models import OutboxMessage
from storage.repo import set_confirmation_message
from storage.runtime import card_messages, due_messages, enqueue, mark_failed, mark_sent
from tradebot.events import ConfirmationExpired, ConfirmationNeeded, ErrorEvent, Event, UnknownPosition
from tradebot.formatting import Rendered, card_result, render_event, split_message
from tradebot.intents import Buttons

log = logging.getLogger("handlers.alerts")
CARD, EDIT = "card", "edit"
ALWAYS = (ConfirmationNeeded, UnknownPosition)  # need a decision: sent whatever the alert switches say


def _markup_dict(buttons: Buttons) -> dict[str, Any] | None:
    m = markup(buttons)
    return m.to_dict() if m is not None else None


def queue(deps: Deps, msg: Rendered, kind: str, chats: list[int] | None = None) -> None:
    """Enqueue one rendered message for each chat (split at 4096; buttons on the last part)."""
    parts = split_message(msg.text)
    with session_scope(deps.db) as s:
        for chat in chats if chats is not None else deps.chats:
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                enqueue(session=s, chat_id=chat, kind=kind if last else "text", text=part,
                        parse_mode=ParseMode.HTML, now=wall_now(),
                        reply_markup=_markup_dict(msg.buttons) if last else None,
                        confirmation_id=msg.confirmation_id if last else None)


def card_rows(deps: Deps, conf_id: str) -> list[OutboxMessage]:
    """Every chat's copy of a confirmation card (sent or still queued)."""
    with session_scope(deps.db) as s:
        rows = card_messages(session=s, confirmation_id=conf_id, kind=CARD)
        for r in rows:
            s.expunge(r)
    return rows


def queue_card_edits(deps: Deps, conf_id: str, status: str, text: str, by: str = "",
                     skip_chat: int | None = None) -> None:
    """Edit the card in every chat (except ``skip_chat``, edited directly) to show the outcome."""
    rows = card_rows(deps, conf_id)
    with session_scope(deps.db) as s:
        for row in rows:
            if row.chat_id != skip_chat:
                enqueue(session=s, chat_id=row.chat_id, kind=EDIT, text=card_result(row.text, status, text, by),
                        parse_mode=ParseMode.HTML, confirmation_id=conf_id, now=wall_now())


class AlertSink:
    """EventBus listener: renders each event into the outbox (a short DB write; Telegram is never awaited)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def __call__(self, event: Event) -> None:
        alerts = self.deps.cfg.bot.alerts
        if isinstance(event, ConfirmationExpired):
            queue_card_edits(self.deps, event.confirmation_id, "expired", "nothing was traded.")
            return
        critical = isinstance(event, ErrorEvent) and event.critical
        if not isinstance(event, ALWAYS) and not critical and not getattr(alerts, event.kind, True):
            return
        rendered = render_event(event)
        if rendered is not None:
            origin = getattr(event, "origin", None)  # the asking chat already has its reply: once is enough
            chats = [c for c in self.deps.chats if str(c) != origin] if origin else None
            queue(self.deps, rendered, CARD if isinstance(event, ConfirmationNeeded) else event.kind, chats)


def _retry_seconds(exc: RetryAfter) -> float:
    ra: Any = exc.retry_after
    return ra.total_seconds() if isinstance(ra, timedelta) else float(ra)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300.0, 2.0 ** min(attempts, 8)))


async def _deliver(bot: Bot, deps: Deps, row: OutboxMessage) -> int | None:
    """Send (or edit) one row; returns the Telegram message id, None when there is nothing to do."""
    reply = InlineKeyboardMarkup.de_json(row.reply_markup, bot) if row.reply_markup else None
    if row.kind == EDIT:
        target = next((c for c in card_rows(deps, row.confirmation_id or "") if c.chat_id == row.chat_id), None)
        if target is None or target.status == "failed":
            return None
        if target.sent_message_id is None:
            raise LookupError("card not delivered yet")
        try:
            await bot.edit_message_text(row.text, row.chat_id, target.sent_message_id, parse_mode=row.parse_mode)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        return target.sent_message_id
    try:
        return await _send(bot, row, row.text, row.parse_mode, reply)
    except BadRequest as exc:  # markup Telegram cannot parse: deliver the words rather than lose the alert
        if not row.parse_mode or "entit" not in str(exc).lower():
            raise
        log.warning("outbox message %s: Telegram refused its formatting (%s); sending it as plain text", row.id, exc)
        return await _send(bot, row, plain_text(row.text), None, reply)


async def _send(bot: Bot, row: OutboxMessage, text: str, parse_mode: str | None,
                reply: InlineKeyboardMarkup | None) -> int:
    if row.photo is not None:
        sent = await bot.send_photo(row.chat_id, row.photo, caption=text or None, parse_mode=parse_mode,
                                    reply_markup=reply)
    else:
        sent = await bot.send_message(row.chat_id, text, parse_mode=parse_mode, reply_markup=reply)
    return sent.message_id


def plain_text(html_text: str) -> str:
    """Telegram HTML → the plain words (tags dropped, entities unescaped)."""
    return html.unescape(re.sub(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?>", "", html_text))


async def drain(bot: Bot, deps: Deps, limit: int = 20) -> int:
    """Deliver due outbox rows in order; returns how many were sent. Flood/network → retry later."""
    with session_scope(deps.db) as s:
        rows = due_messages(session=s, now=wall_now(), limit=limit)
        for r in rows:
            s.expunge(r)
    sent = 0
    for row in rows:
        assert row.id is not None
        now = wall_now()
        try:
            message_id = await _deliver(bot, deps, row)
        except RetryAfter as exc:
            _fail(deps, row, f"flood control: retry after {_retry_seconds(exc)}s",
                  now + timedelta(seconds=_retry_seconds(exc)))
            break  # Telegram asked us to slow down: leave the rest for later
        except LookupError as exc:
            _fail(deps, row, str(exc), now + timedelta(seconds=1))
            continue
        except (BadRequest, Forbidden) as exc:  # will never succeed as is
            log.error("outbox message %s to chat %s refused by Telegram: %s", row.id, row.chat_id, exc)
            _fail(deps, row, str(exc), None)
            continue
        except (NetworkError, TelegramError) as exc:  # TimedOut included: network trouble, try again later
            _fail(deps, row, f"{type(exc).__name__}: {exc}", now + _backoff(row.attempts + 1))
            break
        with session_scope(deps.db) as s:
            mark_sent(session=s, id=row.id, now=wall_now(), sent_message_id=message_id)
            if row.kind == CARD and row.confirmation_id and message_id is not None:
                set_confirmation_message(session=s, id=row.confirmation_id, chat_id=row.chat_id,
                                         message_id=message_id)
        sent += 1
    return sent


def _fail(deps: Deps, row: OutboxMessage, error: str, retry_at: Any) -> None:
    log.warning("outbox message %s to chat %s not delivered (%s)%s", row.id, row.chat_id, error,
                "; will retry" if retry_at else "; giving up")
    with session_scope(deps.db) as s:
        assert row.id is not None  # drain() takes stored rows only
        mark_failed(session=s, id=row.id, error=error, now=wall_now(), retry_at=retry_at)
