"""In-memory Telegram Bot API server so the real python-telegram-bot stack runs offline (tests, --demo)."""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from telegram.error import NetworkError, TimedOut
from telegram.ext import ApplicationBuilder
from telegram.request import BaseRequest, RequestData

_LOG = logging.getLogger(__name__)
Buttons = list[list[tuple[str, str | None]]]
FAULT_KINDS = ("retry_after", "network", "timeout", "conflict", "bad_request", "forbidden")
_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
_NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                 "exactly the same as a current content and reply markup of the message")
_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
         "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
         "span": "spoiler", "code": "code", "pre": "pre", "a": "text_link", "blockquote": "blockquote",
         "tg-emoji": "custom_emoji"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


class HTMLParseError(ValueError):
    """Telegram would reject the text with "Bad Request: can't parse entities: ..."."""


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-HTML like the Bot API: returns (plain text, entities with UTF-16 offsets)."""
    out: list[str] = []
    pos = 0  # UTF-16 position in the output
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            off = len(text[:i].encode())  # tdlib: read the name first, then look for ">"
            m = re.compile(r"(/?)([^\s>]*)").match(text, i + 1)
            assert m is not None
            closing, name = bool(m.group(1)), m.group(2).lower()
            if not closing and name not in _TAGS:
                raise HTMLParseError(f'Unsupported start tag "{name}" at byte offset {off}')
            end = text.find(">", m.end())
            if end < 0:
                raise HTMLParseError(f"Unclosed {'end' if closing else 'start'} tag at byte offset {off}")
            rest = text[m.end():end]
            if closing:
                if not stack:
                    raise HTMLParseError(f"Unexpected end tag at byte offset {off}")
                top, start, attrs = stack.pop()
                if top != name:
                    raise HTMLParseError(
                        f'Unmatched end tag at byte offset {off}, expected "</{top}>", found "</{name}>"')
                if name == "code" and stack and stack[-1][0] == "pre" and attrs.get("class", "").startswith(
                        "language-"):
                    stack[-1][2]["language"] = attrs["class"][9:]
                elif pos > start:
                    entities.append(_entity(name, start, pos - start, attrs))
            else:
                attrs = {k.lower(): html.unescape(a or b or c) for k, a, b, c in _ATTR_RE.findall(rest)}
                if name not in _TAGS or (name == "span" and attrs.get("class") != "tg-spoiler"):
                    raise HTMLParseError(f'Unsupported start tag "{name}" at byte offset {off}')
                stack.append((name, pos, attrs))
            i = end + 1
            continue
        m = _ENTITY_RE.match(text, i) if ch == "&" else None
        if m:
            ref = m.group(1)
            ch = _NAMED.get(ref) or chr(int(ref[2:], 16) if ref[1:2] in "xX" else int(ref[1:]))
            i = m.end()
        else:
            i += 1
        out.append(ch)
        pos += 2 if ord(ch) > 0xFFFF else 1
    if stack:
        raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _entity(tag: str, offset: int, length: int, attrs: dict[str, str]) -> dict[str, Any]:
    ent: dict[str, Any] = {"type": _TAGS[tag], "offset": offset, "length": length}
    if tag == "a":
        ent["url"] = attrs.get("href", "")
    elif tag == "pre" and "language" in attrs:
        ent["language"] = attrs["language"]
    elif tag == "tg-emoji":
        ent["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif tag == "blockquote" and "expandable" in attrs:
        ent["type"] = "expandable_blockquote"
    return ent


class ApiCall(NamedTuple):
    """One Bot API request as the fake server saw it; params are JSON-decoded."""

    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class UploadedFile:
    """A multipart upload (InputFile) received by the fake server."""

    filename: str | None
    mimetype: str | None
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.mimetype!r}, {len(self.data)} bytes)"


@dataclass
class Edit:
    """A previous state of a SentMessage, kept when the bot edits it."""

    method: str
    text: str | None
    caption: str | None
    buttons: Buttons


@dataclass
class SentMessage:
    """A message the bot sent; text/caption are the source the bot sent, plain/entities what users see."""

    message_id: int
    chat_id: int
    text: str | None = None
    parse_mode: str | None = None
    buttons: Buttons = field(default_factory=list)
    photo: bytes | None = None
    caption: str | None = None
    document: UploadedFile | None = None
    plain: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class CallbackAnswer:
    """An answerCallbackQuery for a query pushed by the hub."""

    query_id: str
    chat_id: int
    message_id: int | None
    text: str | None
    show_alert: bool


Listener = Callable[[str, "SentMessage | CallbackAnswer"], None]
ApiMethod = Callable[[dict[str, Any], dict[str, "UploadedFile"]], Any]


class _ApiError(Exception):
    def __init__(self, code: int, description: str, **parameters: Any) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


def _buttons(markup: dict[str, Any] | None) -> Buttons:
    rows = (markup or {}).get("inline_keyboard") or []
    return [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in rows]


def _norm(label: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in label.casefold()).split())


class OfflineBotAPI(BaseRequest):
    """A BaseRequest that answers Bot API calls from an OfflineTelegram hub instead of the network."""

    def __init__(self, hub: OfflineTelegram) -> None:
        self.hub = hub

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        """Nothing to set up: there is no connection."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if method != "POST":  # file downloads (Bot.retrieve) are not emulated
            return 404, json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}).encode()
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        if request_data is not None:
            for key, value in request_data.json_parameters.items():  # decode exactly what goes on the wire
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
            for key, (filename, content, mimetype) in request_data.multipart_data.items():
                data = content if isinstance(content, bytes) else content.read()
                files[key] = UploadedFile(filename, mimetype, data)
        timeout = read_timeout if isinstance(read_timeout, int | float) else None
        return await self.hub._dispatch(url.rsplit("/", 1)[-1], params, files, timeout)


class OfflineTelegram:
    """The fake Telegram: holds chats, pending updates, sent messages, recorded calls and injected faults."""

    def __init__(self, bot_id: int = 123, username: str = "demo_bot", first_name: str = "Demo Bot") -> None:
        self.bot_id, self.username, self.first_name = bot_id, username, first_name
        self.calls: list[ApiCall] = []
        self.answers: list[CallbackAnswer] = []
        self.commands: list[dict[str, Any]] = []
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._incoming: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._next_mid: dict[int, int] = {}
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._queries: dict[str, tuple[int, int | None]] = {}
        self._updates: list[dict[str, Any]] = []
        self._delivered = 0  # highest update_id returned by getUpdates
        self._faults: dict[str, list[list[Any]]] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_update: asyncio.Event | None = None
        self._activity: asyncio.Event | None = None
        self._poller: object | None = None
        self._last_activity = time.monotonic()
        self.api: dict[str, ApiMethod] = self._default_api()  # add entries to emulate more methods

    # ---- test / demo API -------------------------------------------------------------------------
    def request(self) -> OfflineBotAPI:
        """A BaseRequest bound to this hub (use one for request and one for get_updates_request)."""
        return OfflineBotAPI(self)

    def fail_next(self, method: str, kind: str, n: int = 1, retry_after: float = 1,
                  description: str | None = None) -> None:
        """Make the next n calls of method ("*" = any but getUpdates) fail with the given kind."""
        if kind not in FAULT_KINDS or n < 1:
            raise ValueError(f"bad fault {kind!r} x{n}; kind must be one of {FAULT_KINDS}, n >= 1")
        with self._lock:
            self._faults.setdefault(method, []).append([kind, n, retry_after, description])

    def on_send(self, callback: Listener) -> Callable[[], None]:
        """Call callback(kind, obj) on message/edit/photo/document/delete (SentMessage) and answer."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def push_update(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw Update dict for getUpdates (update_id is assigned if missing)."""
        with self._lock:
            raw.setdefault("update_id", next(self._update_ids))
            query = raw.get("callback_query")
            if query:
                msg = query.get("message") or {}
                self._queries[query["id"]] = ((msg.get("chat") or {}).get("id", 0), msg.get("message_id"))
            self._updates.append(raw)
        self._wake("_new_update")
        return raw

    def push_message(self, chat_id: int, text: str, user_id: int | None = None,
                     chat_type: str = "private") -> dict[str, Any]:
        """Queue a message from a user; text starting with "/" gets a bot_command entity."""
        return self.push_update({"message": self._user_message(chat_id, text, user_id, chat_type)})

    def push_edited_message(self, chat_id: int, message_id: int, text: str,
                            user_id: int | None = None) -> dict[str, Any]:
        """Queue an edited_message for a message previously pushed by a user."""
        msg = dict(self._incoming.get((chat_id, message_id)) or self._user_message(chat_id, text, user_id))
        msg.update(message_id=message_id, text=text, edit_date=int(time.time()), entities=_commands(text))
        self._incoming[(chat_id, message_id)] = msg
        return self.push_update({"edited_message": msg})

    def push_channel_post(self, chat_id: int, text: str) -> dict[str, Any]:
        """Queue a channel_post (no sender user)."""
        msg = self._user_message(chat_id, text, None, "channel")
        msg.pop("from")
        return self.push_update({"channel_post": msg})

    def push_callback(self, chat_id: int, data: str, message_id: int,
                      user_id: int | None = None) -> dict[str, Any]:
        """Queue a button press on a message the bot sent; data need not match a real button."""
        sent = self._messages.get((chat_id, message_id))
        if sent is None or sent.deleted:
            raise LookupError(f"no bot message {message_id} in chat {chat_id}; have {self.messages_text(chat_id)}")
        query = {"id": f"cbq{next(self._query_ids)}", "from": self._user(chat_id, user_id),
                 "chat_instance": f"ci{chat_id}", "data": data, "message": dict(sent.raw)}
        return self.push_update({"callback_query": query})

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages the bot sent (in order), optionally for one chat; deleted ones have .deleted set."""
        return [m for m in self._messages.values() if chat_id is None or m.chat_id == chat_id]

    def messages_text(self, chat_id: int | None = None) -> list[str]:
        """Current visible text (or caption) of each non-deleted bot message."""
        return [m.plain for m in self.sent(chat_id) if not m.deleted]

    def calls_for(self, method: str) -> list[dict[str, Any]]:
        """Params of every recorded call of one method (failed attempts included)."""
        return [c.params for c in self.calls if c.method == method]

    @staticmethod
    def button(message: SentMessage, label: str) -> str:
        """callback_data of the button whose label matches (exact, case-insensitive, or ignoring emoji)."""
        flat = [b for row in message.buttons for b in row]
        for match in (lambda t: t == label, lambda t: t.casefold() == label.casefold(),
                      lambda t: _norm(t) == _norm(label) != ""):
            for text, data in flat:
                if match(text) and data is not None:
                    return data
        raise KeyError(f"no callback button {label!r} in message {message.message_id}; have {flat}")

    async def wait_for(self, predicate: Callable[[SentMessage], bool],
                       timeout: float = 5) -> SentMessage:  # noqa: ASYNC109
        """First sent message (current state) matching predicate; TimeoutError with a dump if none."""
        found = await self._wait(lambda: next((m for m in self.sent() if predicate(m)), None), timeout)
        if found is None:
            raise TimeoutError(f"no matching message within {timeout}s\n{self.dump()}")
        return found

    async def wait_for_call(self, method: str, timeout: float = 5,  # noqa: ASYNC109
                            predicate: Callable[[dict[str, Any]], bool] = lambda p: True) -> dict[str, Any]:
        """Params of the first recorded call of method matching predicate."""
        found = await self._wait(lambda: next((p for p in self.calls_for(method) if predicate(p)), None), timeout)
        if found is None:
            raise TimeoutError(f"no matching {method} call within {timeout}s\n{self.dump()}")
        return found

    async def wait_idle(self, quiet: float = 0.2, timeout: float = 5) -> bool:  # noqa: ASYNC109
        """Wait until every pushed update was fetched and the bot made no call for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pending_updates() and time.monotonic() - self._last_activity >= quiet:
                return True
            await asyncio.sleep(min(0.05, quiet))
        return False

    def pending_updates(self) -> int:
        """Number of pushed updates not yet returned by getUpdates."""
        with self._lock:
            return sum(1 for u in self._updates if u["update_id"] > self._delivered)

    def dump(self) -> str:
        """Human-readable state for failure messages."""
        lines = ["sent messages:"] + [
            f"  chat={m.chat_id} id={m.message_id}{' (deleted)' if m.deleted else ''}: {m.plain!r} "
            f"buttons={m.buttons} edits={len(m.edits)}" for m in self.sent()]
        lines += ["last calls:"] + [f"  {c.method} {c.params}" for c in self.calls[-15:]]
        return "\n".join(lines)

    # ---- internals --------------------------------------------------------------------------------
    def _user(self, chat_id: int, user_id: int | None) -> dict[str, Any]:
        uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1000)
        return {"id": uid, "is_bot": False, "first_name": f"User{uid}", "username": f"user{uid}"}

    def _chat(self, chat_id: int, chat_type: str | None = None) -> dict[str, Any]:
        if chat_type is not None or chat_id not in self._chats:
            kind = chat_type or ("private" if chat_id > 0 else "supergroup" if str(chat_id).startswith("-100")
                                 else "group")
            extra = {"first_name": f"User{chat_id}"} if kind == "private" else {"title": f"Chat {chat_id}"}
            self._chats[chat_id] = {"id": chat_id, "type": kind, **extra}
        return self._chats[chat_id]

    def _new_mid(self, chat_id: int) -> int:
        with self._lock:
            self._next_mid[chat_id] = self._next_mid.get(chat_id, 0) + 1
            return self._next_mid[chat_id]

    def _user_message(self, chat_id: int, text: str, user_id: int | None,
                      chat_type: str | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"message_id": self._new_mid(chat_id), "date": int(time.time()),
                               "chat": self._chat(chat_id, chat_type), "from": self._user(chat_id, user_id),
                               "text": text}
        if entities := _commands(text):
            msg["entities"] = entities
        self._incoming[(chat_id, msg["message_id"])] = msg
        return msg

    def _ensure_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # (re)bind the events to the loop the bot runs on
            self._loop, self._new_update, self._activity = loop, asyncio.Event(), asyncio.Event()

    def _wake(self, name: str) -> None:
        loop, event = self._loop, getattr(self, name)
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def _wait(self, probe: Callable[[], Any], seconds: float) -> Any:
        self._ensure_loop()
        assert self._activity is not None
        deadline = time.monotonic() + seconds
        while True:
            self._activity.clear()
            if (found := probe()) is not None or (left := deadline - time.monotonic()) <= 0:
                return found
            try:
                await asyncio.wait_for(self._activity.wait(), left)
            except TimeoutError:
                pass

    def _notify(self, kind: str, obj: SentMessage | CallbackAnswer) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, obj)
            except Exception:  # a broken listener must not break the bot's request
                _LOG.exception("offline listener failed on %s", kind)

    async def _dispatch(self, method: str, params: dict[str, Any], files: dict[str, UploadedFile],
                        read_timeout: float | None) -> tuple[int, bytes]:
        self._ensure_loop()
        with self._lock:
            self.calls.append(ApiCall(method, {**params, **files}))
            if method != "getUpdates":
                self._last_activity = time.monotonic()
            fault = self._take_fault(method)
        try:
            if fault is not None:
                kind, retry_after, description = fault
                if kind == "network":
                    raise NetworkError(description or "offline: injected network error")
                if kind == "timeout":
                    raise TimedOut(description or "offline: injected timeout")
                code, default = {"retry_after": (429, f"Too Many Requests: retry after {retry_after}"),
                                 "conflict": (409, _CONFLICT), "bad_request": (400, "Bad Request: injected"),
                                 "forbidden": (403, "Forbidden: bot was blocked by the user")}[kind]
                extra = {"retry_after": retry_after} if kind == "retry_after" else {}
                raise _ApiError(code, description or default, **extra)
            if method == "getUpdates":
                result: Any = await self._get_updates(params, read_timeout)
            elif (handler := self.api.get(method)) is not None:
                result = handler(params, files)
            else:
                raise _ApiError(404, f"Not Found: method {method} is not emulated by OfflineTelegram")
            return 200, json.dumps({"ok": True, "result": result}).encode()
        except _ApiError as exc:
            body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            return exc.code, json.dumps(body).encode()
        finally:
            self._wake("_activity")

    def _take_fault(self, method: str) -> tuple[str, float, str | None] | None:
        for key in (method, "*") if method != "getUpdates" else (method,):
            queue = self._faults.get(key)
            if queue:
                kind, n, retry_after, description = queue[0]
                queue[0][1] = n - 1
                if n - 1 <= 0:
                    queue.pop(0)
                return kind, retry_after, description
        return None

    async def _get_updates(self, params: dict[str, Any], read_timeout: float | None) -> list[dict[str, Any]]:
        assert self._new_update is not None
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        allowed = params.get("allowed_updates") or None
        token = object()
        with self._lock:
            if (offset := params.get("offset")) is not None and offset > 0:  # confirm earlier updates
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if self._poller is not None:  # the newest getUpdates wins, like Telegram
                self._wake("_new_update")
            self._poller = token
        deadline = time.monotonic() + min(timeout, read_timeout if read_timeout is not None else timeout)
        try:
            while True:
                self._new_update.clear()
                with self._lock:
                    if self._poller is not token:
                        raise _ApiError(409, _CONFLICT)
                    ready = [u for u in self._updates if not allowed or set(u) - {"update_id"} <= set(allowed)]
                    if ready[:limit]:
                        self._delivered = max(self._delivered, ready[:limit][-1]["update_id"])
                        return ready[:limit]
                if (left := deadline - time.monotonic()) <= 0:
                    if read_timeout is not None and read_timeout < timeout:
                        raise TimedOut("offline: getUpdates read timeout")
                    return []
                try:
                    await asyncio.wait_for(self._new_update.wait(), left)
                except TimeoutError:
                    pass
        finally:
            with self._lock:
                if self._poller is token:
                    self._poller = None

    def _message_json(self, sent: SentMessage) -> dict[str, Any]:
        msg: dict[str, Any] = {"message_id": sent.message_id, "date": int(time.time()),
                               "chat": self._chat(sent.chat_id),
                               "from": {"id": self.bot_id, "is_bot": True, "first_name": self.first_name,
                                        "username": self.username}}
        if sent.photo is not None or sent.document is not None:
            size = len(sent.photo if sent.photo is not None else sent.document.data)  # type: ignore[union-attr]
            fid = {"file_id": f"f{sent.chat_id}_{sent.message_id}", "file_unique_id": f"u{sent.message_id}",
                   "file_size": size}
            if sent.photo is not None:
                msg["photo"] = [{**fid, "width": 800, "height": 600}]
            else:
                msg["document"] = {**fid, "file_name": sent.document.filename or "file",  # type: ignore[union-attr]
                                   "mime_type": sent.document.mimetype or "application/octet-stream"}
            if sent.caption is not None:
                msg["caption"] = sent.plain
                if sent.entities:
                    msg["caption_entities"] = sent.entities
        else:
            msg["text"] = sent.plain
            if sent.entities:
                msg["entities"] = sent.entities
        if sent.buttons:
            msg["reply_markup"] = {"inline_keyboard": sent.reply_markup["inline_keyboard"]}  # type: ignore[index]
        if sent.edits:
            msg["edit_date"] = int(time.time())
        return msg

    @staticmethod
    def _render(params: dict[str, Any], key: str, limit: int) -> tuple[str, list[dict[str, Any]]]:
        text = str(params.get(key) or "")
        if len(text) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        if params.get("parse_mode") == "HTML":
            try:
                text, entities = parse_html(text)
            except HTMLParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        else:  # Markdown is passed through unparsed
            entities = list(params.get("entities" if key == "text" else "caption_entities") or [])
        if key == "text" and not text.strip():
            raise _bad("message text is empty")
        return text, entities

    @staticmethod
    def _check_markup(markup: dict[str, Any] | None) -> None:
        for row in (markup or {}).get("inline_keyboard") or []:
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > 64:
                    raise _bad("BUTTON_DATA_INVALID")

    def _send(self, params: dict[str, Any], kind: str, key: str, **fields: Any) -> dict[str, Any]:
        plain, entities = self._render(params, key, 4096 if key == "text" else 1024)
        chat_id = int(params["chat_id"])
        markup = params.get("reply_markup")
        self._check_markup(markup)
        sent = SentMessage(self._new_mid(chat_id), chat_id, parse_mode=params.get("parse_mode"), plain=plain,
                           entities=entities, buttons=_buttons(markup), reply_markup=markup, **fields)
        sent.raw = self._message_json(sent)
        self._messages[(chat_id, sent.message_id)] = sent
        self._notify(kind, sent)
        return sent.raw

    def _media(self, params: dict[str, Any], files: dict[str, UploadedFile], key: str) -> UploadedFile:
        if key in files:
            return files[key]
        ref = str(params.get(key, ""))
        known = next((m for m in self._messages.values() if ref == f"f{m.chat_id}_{m.message_id}"), None)
        if known is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        data = known.photo if known.photo is not None else known.document.data  # type: ignore[union-attr]
        return UploadedFile(None, None, data)

    def _edit(self, params: dict[str, Any], method: str, key: str | None) -> dict[str, Any]:
        if "inline_message_id" in params:
            raise _bad("inline messages are not emulated")
        ref = (int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
        sent = self._messages.get(ref)
        if sent is None or sent.deleted:
            raise _bad("message can't be edited" if ref in self._incoming else "message to edit not found")
        markup = params.get("reply_markup")
        self._check_markup(markup)
        new: dict[str, Any] = {"buttons": _buttons(markup), "reply_markup": markup}
        if key is not None:
            if (key == "text") != (sent.text is not None):
                raise _bad(f"there is no {key} in the message to edit")
            plain, entities = self._render(params, key, 4096 if key == "text" else 1024)
            new.update({key: params.get(key), "plain": plain, "entities": entities,
                        "parse_mode": params.get("parse_mode")})
        keyboard = (markup or {}).get("inline_keyboard") or []
        if ((sent.reply_markup or {}).get("inline_keyboard") or []) == keyboard and all(
                getattr(sent, k) == new[k] for k in ("plain", "entities") if k in new):
            raise _bad(_NOT_MODIFIED[len("Bad Request: "):])
        sent.edits.append(Edit(method, sent.text, sent.caption, sent.buttons))
        for name, value in new.items():
            setattr(sent, name, value)
        sent.raw = self._message_json(sent)
        self._notify("edit", sent)
        return sent.raw

    def _delete(self, params: dict[str, Any]) -> bool:
        ref = (int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
        sent = self._messages.get(ref)
        if (sent is None or sent.deleted) and self._incoming.pop(ref, None) is None:
            raise _bad("message to delete not found")
        if sent is not None:
            sent.deleted = True
            self._notify("delete", sent)
        return True

    def _answer(self, params: dict[str, Any]) -> bool:
        target = self._queries.pop(str(params.get("callback_query_id")), None)
        if target is None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        answer = CallbackAnswer(str(params["callback_query_id"]), target[0], target[1], params.get("text"),
                                bool(params.get("show_alert")))
        self.answers.append(answer)
        self._notify("answer", answer)
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    def _set_commands(self, commands: list[dict[str, Any]]) -> bool:
        self.commands = list(commands)
        return True

    def _default_api(self) -> dict[str, ApiMethod]:
        return {
            "getMe": lambda p, f: {"id": self.bot_id, "is_bot": True, "first_name": self.first_name,
                                   "username": self.username, "can_join_groups": True,
                                   "can_read_all_group_messages": False, "supports_inline_queries": False},
            "deleteWebhook": lambda p, f: self._delete_webhook(p),
            "sendMessage": lambda p, f: self._send(p, "message", "text", text=p.get("text")),
            "sendPhoto": lambda p, f: self._send(p, "photo", "caption", photo=self._media(p, f, "photo").data,
                                                 caption=p.get("caption")),
            "sendDocument": lambda p, f: self._send(p, "document", "caption", caption=p.get("caption"),
                                                    document=self._media(p, f, "document")),
            "editMessageText": lambda p, f: self._edit(p, "editMessageText", "text"),
            "editMessageCaption": lambda p, f: self._edit(p, "editMessageCaption", "caption"),
            "editMessageReplyMarkup": lambda p, f: self._edit(p, "editMessageReplyMarkup", None),
            "deleteMessage": lambda p, f: self._delete(p),
            "answerCallbackQuery": lambda p, f: self._answer(p),
            "sendChatAction": lambda p, f: True,
            "setMyCommands": lambda p, f: self._set_commands(p.get("commands") or []),
            "getMyCommands": lambda p, f: self.commands,
            "deleteMyCommands": lambda p, f: self._set_commands([]),
        }


def _commands(text: str) -> list[dict[str, Any]]:
    m = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    return [{"type": "bot_command", "offset": 0, "length": len(m.group(0))}] if m else []


def build_offline_application(hub: OfflineTelegram, token: str | None = None,
                              **builder_kwargs: Any) -> ApplicationBuilder:
    """ApplicationBuilder wired to the hub; builder_kwargs call builder methods (e.g. rate_limiter=...)."""
    builder = ApplicationBuilder().token(token or f"{hub.bot_id}:OFFLINE")
    builder = builder.request(hub.request()).get_updates_request(hub.request())
    for name, value in builder_kwargs.items():
        builder = getattr(builder, name)(value)
    return builder
