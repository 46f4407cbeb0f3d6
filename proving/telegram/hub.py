"""In-memory Telegram Bot API server so the real python-telegram-bot stack runs offline (tests, --demo)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from telegram.error import NetworkError, TimedOut
from telegram.ext import ApplicationBuilder
from telegram.request import BaseRequest, RequestData

from proving.telegram.methods import BotApiMethods, menu_for
from proving.telegram.types import (
    CONFLICT,
    ApiCall,
    ApiError,
    ApiMethod,
    CallbackAnswer,
    Listener,
    SentMessage,
    UploadedFile,
    command_entities,
    normalize_label,
)

_LOG = logging.getLogger(__name__)
T = TypeVar("T")
FAULT_KINDS = ("retry_after", "network", "timeout", "conflict", "bad_request", "forbidden")


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
        self.commands: list[dict[str, Any]] = []  # the default scope's menu
        self.menus: dict[str, list[dict[str, Any]]] = {}  # every scope's (methods.scope_key), the default's too
        self.webhook: dict[str, Any] = {}
        self.by_id: dict[tuple[int, int], SentMessage] = {}
        self.incoming: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._next_mid: dict[int, int] = {}
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self.queries: dict[str, tuple[int, int | None]] = {}
        self.updates: list[dict[str, Any]] = []
        self._delivered = 0  # highest update_id returned by getUpdates
        self._faults: dict[str, list[list[Any]]] = {}
        self._listeners: list[Listener] = []
        self.lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_update: asyncio.Event | None = None
        self._activity: asyncio.Event | None = None
        self._poller: object | None = None
        self._last_activity = time.monotonic()
        self.api: dict[str, ApiMethod] = BotApiMethods(self).table()  # add entries to emulate more methods

    # ---- test / demo API -------------------------------------------------------------------------
    def request(self) -> OfflineBotAPI:
        """A BaseRequest bound to this hub (use one for request and one for get_updates_request)."""
        return OfflineBotAPI(self)

    def fail_next(self, method: str, kind: str, n: int = 1, retry_after: float = 1,
                  description: str | None = None) -> None:
        """Make the next n calls of method ("*" = any but getUpdates) fail with the given kind."""
        if kind not in FAULT_KINDS or n < 1:
            raise ValueError(f"bad fault {kind!r} x{n}; kind must be one of {FAULT_KINDS}, n >= 1")
        with self.lock:
            self._faults.setdefault(method, []).append([kind, n, retry_after, description])

    def on_send(self, callback: Listener) -> Callable[[], None]:
        """Call callback(kind, obj) on message/edit/photo/document/delete (SentMessage) and answer."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def push_update(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw Update dict for getUpdates (update_id is assigned if missing)."""
        with self.lock:
            raw.setdefault("update_id", next(self._update_ids))
            query = raw.get("callback_query")
            if query:
                msg = query.get("message") or {}
                self.queries[query["id"]] = ((msg.get("chat") or {}).get("id", 0), msg.get("message_id"))
            self.updates.append(raw)
        self._wake("_new_update")
        return raw

    def push_message(self, chat_id: int, text: str, user_id: int | None = None,
                     chat_type: str = "private") -> dict[str, Any]:
        """Queue a message from a user; text starting with "/" gets a bot_command entity."""
        return self.push_update({"message": self._user_message(chat_id, text, user_id, chat_type)})

    def push_edited_message(self, chat_id: int, message_id: int, text: str,
                            user_id: int | None = None) -> dict[str, Any]:
        """Queue an edited_message for a message previously pushed by a user."""
        msg = dict(self.incoming.get((chat_id, message_id)) or self._user_message(chat_id, text, user_id))
        msg.update(message_id=message_id, text=text, edit_date=int(time.time()), entities=command_entities(text))
        self.incoming[(chat_id, message_id)] = msg
        return self.push_update({"edited_message": msg})

    def push_channel_post(self, chat_id: int, text: str) -> dict[str, Any]:
        """Queue a channel_post (no sender user)."""
        msg = self._user_message(chat_id, text, None, "channel")
        msg.pop("from")
        return self.push_update({"channel_post": msg})

    def push_callback(self, chat_id: int, data: str, message_id: int,
                      user_id: int | None = None) -> dict[str, Any]:
        """Queue a button press on a message the bot sent; data need not match a real button."""
        sent = self.by_id.get((chat_id, message_id))
        if sent is None or sent.deleted:
            raise LookupError(f"no bot message {message_id} in chat {chat_id}; have {self.messages_text(chat_id)}")
        query = {"id": f"cbq{next(self._query_ids)}", "from": self._user(chat_id, user_id),
                 "chat_instance": f"ci{chat_id}", "data": data, "message": dict(sent.raw)}
        return self.push_update({"callback_query": query})

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages the bot sent (in order), optionally for one chat; deleted ones have .deleted set."""
        return [m for m in self.by_id.values() if chat_id is None or m.chat_id == chat_id]

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
                      lambda t: normalize_label(t) == normalize_label(label) != ""):
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
        with self.lock:
            return sum(1 for u in self.updates if u["update_id"] > self._delivered)

    def menu(self, chat_id: int, user_id: int | None = None) -> list[str]:
        """The command menu ``user_id`` sees in ``chat_id`` (setMyCommands' scopes resolved as Telegram does)."""
        return menu_for(self.menus, chat_id, user_id)

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

    def chat(self, chat_id: int, chat_type: str | None = None) -> dict[str, Any]:
        if chat_type is not None or chat_id not in self._chats:
            kind = chat_type or ("private" if chat_id > 0 else "supergroup" if str(chat_id).startswith("-100")
                                 else "group")
            extra = {"first_name": f"User{chat_id}"} if kind == "private" else {"title": f"Chat {chat_id}"}
            self._chats[chat_id] = {"id": chat_id, "type": kind, **extra}
        return self._chats[chat_id]

    def new_message_id(self, chat_id: int) -> int:
        with self.lock:
            self._next_mid[chat_id] = self._next_mid.get(chat_id, 0) + 1
            return self._next_mid[chat_id]

    def _user_message(self, chat_id: int, text: str, user_id: int | None,
                      chat_type: str | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"message_id": self.new_message_id(chat_id), "date": int(time.time()),
                               "chat": self.chat(chat_id, chat_type), "from": self._user(chat_id, user_id),
                               "text": text}
        if entities := command_entities(text):
            msg["entities"] = entities
        self.incoming[(chat_id, msg["message_id"])] = msg
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

    async def _wait(self, probe: Callable[[], T | None], seconds: float) -> T | None:
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

    def notify(self, kind: str, obj: SentMessage | CallbackAnswer) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, obj)
            except Exception:  # a broken listener must not break the bot's request
                _LOG.exception("offline listener failed on %s", kind)

    async def _dispatch(self, method: str, params: dict[str, Any], files: dict[str, UploadedFile],
                        read_timeout: float | None) -> tuple[int, bytes]:
        self._ensure_loop()
        with self.lock:
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
                                 "conflict": (409, CONFLICT), "bad_request": (400, "Bad Request: injected"),
                                 "forbidden": (403, "Forbidden: bot was blocked by the user")}[kind]
                extra = {"retry_after": retry_after} if kind == "retry_after" else {}
                raise ApiError(code, description or default, **extra)
            if method == "getUpdates":
                result: Any = await self._get_updates(params, read_timeout)
            elif (handler := self.api.get(method)) is not None:
                result = handler(params, files)
            else:
                raise ApiError(404, f"Not Found: method {method} is not emulated by OfflineTelegram")
            return 200, json.dumps({"ok": True, "result": result}).encode()
        except ApiError as exc:
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
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use "
                                 "deleteWebhook to delete the webhook first")
        with self.lock:
            if (offset := params.get("offset")) is not None and offset > 0:  # confirm earlier updates
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if self._poller is not None:  # the newest getUpdates wins, like Telegram
                self._wake("_new_update")
            self._poller = token
        deadline = time.monotonic() + min(timeout, read_timeout if read_timeout is not None else timeout)
        try:
            while True:
                self._new_update.clear()
                with self.lock:
                    if self._poller is not token:
                        raise ApiError(409, CONFLICT)
                    ready = [u for u in self.updates if not allowed or set(u) - {"update_id"} <= set(allowed)]
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
            with self.lock:
                if self._poller is token:
                    self._poller = None



def build_offline_application(hub: OfflineTelegram, token: str | None = None,
                              **builder_kwargs: Any) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """ApplicationBuilder wired to the hub; builder_kwargs call builder methods (e.g. rate_limiter=...)."""
    builder = ApplicationBuilder().token(token or f"{hub.bot_id}:OFFLINE")
    builder = builder.request(hub.request()).get_updates_request(hub.request())
    for name, value in builder_kwargs.items():
        builder = getattr(builder, name)(value)
    return builder
