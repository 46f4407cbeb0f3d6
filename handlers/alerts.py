"""Core events → durable outbox rows (never blocks trading); the drain job delivers them with retries."""

from __future__ import annotations

import html
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from handlers.buttons import markup
from handlers.deps import Deps, wall_now
from handlers.render.formatting import Rendered, card_result, render_event, split_message
from storage.journal import Message
from storage.models import OutboxMessage
from storage.trouble import DOWN, reason
from tradebot.events import (
    ConfirmationExpired,
    ConfirmationNeeded,
    ErrorEvent,
    Event,
    UnknownDefaulted,
    UnknownPosition,
)
from tradebot.intents import Buttons

log = logging.getLogger("handlers.alerts")
CARD, EDIT = "card", "edit"
ALWAYS = (ConfirmationNeeded, UnknownPosition, UnknownDefaulted)  # a decision asked or taken: whatever the switches say


def _markup_dict(buttons: Buttons) -> dict[str, Any] | None:
    m = markup(buttons)
    return m.to_dict() if m is not None else None


async def queue(deps: Deps, msg: Rendered, kind: str, chats: list[int] | None = None) -> None:
    """Enqueue one rendered message for each chat (split at 4096; buttons on the last part)."""
    parts = split_message(msg.text)
    rows = []
    for chat in chats if chats is not None else deps.chats:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            rows.append(Message(chat, kind if last else "text", part, ParseMode.HTML,
                                _markup_dict(msg.buttons) if last else None, msg.confirmation_id if last else None))
    await deps.journal.outbox.enqueue(rows, wall_now())


async def card_rows(deps: Deps, conf_id: str) -> list[OutboxMessage]:
    """Every chat's copy of a confirmation card (sent or still queued)."""
    return await deps.journal.outbox.cards(conf_id, CARD)


def token_card(token: str) -> str:
    """The outbox kind of each chat's copy of a card whose buttons carry ``token`` (an unknown position's); its
    edits are ``edit:<token>``. (Confirmation cards are linked by their confirmation id instead.)"""
    return f"{CARD}:{token}"


async def queue_card_edits(deps: Deps, conf_id: str, status: str, text: str, by: str = "",
                           skip_chat: int | None = None) -> None:
    """Edit the card in every chat (except ``skip_chat``, edited directly) to show the outcome."""
    rows = [Message(row.chat_id, EDIT, card_result(row.text, status, text, by), ParseMode.HTML,
                    confirmation_id=conf_id)
            for row in await card_rows(deps, conf_id) if row.chat_id != skip_chat]
    await deps.journal.outbox.enqueue(rows, wall_now())


async def queue_token_card_edits(deps: Deps, token: str, status: str, text: str, by: str = "",
                                 skip_chat: int | None = None) -> None:
    """The same for a card linked by its button token: every other chat's copy shows who decided what."""
    rows = [Message(row.chat_id, f"{EDIT}:{token}", card_result(row.text, status, text, by), ParseMode.HTML)
            for row in await deps.journal.outbox.of_kind(token_card(token)) if row.chat_id != skip_chat]
    await deps.journal.outbox.enqueue(rows, wall_now())


async def _copies(deps: Deps, edit: OutboxMessage) -> list[OutboxMessage]:
    """The card copies an edit row may target (by confirmation id, or by the token in its kind)."""
    if edit.kind == EDIT:
        return await card_rows(deps, edit.confirmation_id or "")
    return await deps.journal.outbox.of_kind(token_card(edit.kind.partition(":")[2]))


class AlertSink:
    """EventBus listener: renders each event into the outbox (a short DB write; Telegram is never awaited)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def __call__(self, event: Event) -> None:
        alerts = self.deps.cfg.bot.alerts
        if isinstance(event, ConfirmationExpired):
            await queue_card_edits(self.deps, event.confirmation_id, "expired", "nothing was traded.")
            return
        critical = isinstance(event, ErrorEvent) and event.critical
        if not isinstance(event, ALWAYS) and not critical and not alerts.on(event.kind):
            return
        origin = getattr(event, "origin", None)  # the asking chat already has its reply: once is enough
        chats = [c for c in self.deps.chats if str(c) != origin] if origin else self.deps.chats
        token = None
        try:
            if isinstance(event, UnknownDefaulted):  # every copy of its card: buttons gone, what the default did
                if (token := await self.deps.service.unknown_defaulted(event.symbol, event.decision)) is not None:
                    await queue_token_card_edits(self.deps, token, event.decision,
                                                 f"default applied: {event.outcome}")
                return
            if isinstance(event, UnknownPosition):  # one single-use token for the card and all its copies
                token = await self.deps.service.unknown_card(event.symbol, event.size, chats)
            rendered = render_event(event, token)
            if rendered is not None:
                kind = CARD if isinstance(event, ConfirmationNeeded) else token_card(token) if token else event.kind
                await queue(self.deps, rendered, kind, chats)
        except DOWN as exc:  # the journal alarm has told the owner (directly); one line here, no traceback
            log.warning("%s alert not queued: the journal cannot be written (%s)", event.kind, reason(exc))


def _retry_seconds(exc: RetryAfter) -> float:
    ra: Any = exc.retry_after
    return ra.total_seconds() if isinstance(ra, timedelta) else float(ra)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300.0, 2.0 ** min(attempts, 8)))


async def _deliver(bot: Bot, deps: Deps, row: OutboxMessage) -> int | None:
    """Send (or edit) one row; returns the Telegram message id, None when there is nothing to do."""
    reply = InlineKeyboardMarkup.de_json(row.reply_markup, bot) if row.reply_markup else None
    if row.kind == EDIT or row.kind.startswith(f"{EDIT}:"):
        target = next((c for c in await _copies(deps, row) if c.chat_id == row.chat_id), None)
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
    """Deliver due outbox rows in order; returns how many were sent. Flood/network → retry later. While the journal
    cannot be read, nothing is sent (the journal alarm says so); while it cannot be written, a row already
    delivered is never sent again (its "sent" mark waits in memory)."""
    outbox = deps.journal.outbox
    try:
        await outbox.record_unrecorded()
    except DOWN:
        pass  # still cannot be written: the marks wait, those rows are skipped below
    try:
        rows = [r for r in await outbox.due(wall_now(), limit + len(outbox.unrecorded))
                if r.id not in outbox.unrecorded][:limit]
        return await _deliver_rows(bot, deps, rows)
    except DOWN:
        return 0


async def _deliver_rows(bot: Bot, deps: Deps, rows: list[OutboxMessage]) -> int:
    sent = 0
    for row in rows:
        assert row.id is not None
        now = wall_now()
        try:
            message_id = await _deliver(bot, deps, row)
        except RetryAfter as exc:
            await _fail(deps, row, f"flood control: retry after {_retry_seconds(exc)}s",
                  now + timedelta(seconds=_retry_seconds(exc)))
            break  # Telegram asked us to slow down: leave the rest for later
        except LookupError as exc:
            await _fail(deps, row, str(exc), now + timedelta(seconds=1))
            continue
        except (BadRequest, Forbidden) as exc:  # will never succeed as is
            log.error("outbox message %s to chat %s refused by Telegram: %s", row.id, row.chat_id, exc)
            await _fail(deps, row, str(exc), None)
            continue
        except (NetworkError, TelegramError) as exc:  # TimedOut included: network trouble, try again later
            await _fail(deps, row, f"{type(exc).__name__}: {exc}", now + _backoff(row.attempts + 1))
            break
        sent += 1
        try:
            await deps.journal.outbox.sent(row.id, wall_now(), message_id,
                                           card_of=row.confirmation_id if row.kind == CARD else None,
                                           chat_id=row.chat_id)
        except DOWN:
            continue  # delivered once; the mark is kept until the journal can be written
    return sent


async def _fail(deps: Deps, row: OutboxMessage, error: str, retry_at: datetime | None) -> None:
    log.warning("outbox message %s to chat %s not delivered (%s)%s", row.id, row.chat_id, error,
                "; will retry" if retry_at else "; giving up")
    assert row.id is not None
    await deps.journal.outbox.failed(row.id, error, wall_now(), retry_at)
