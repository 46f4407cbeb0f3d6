"""A fake Telegram Bot API server (stdlib HTTP on 127.0.0.1) that records calls and can auto-approve cards."""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Fake", "username": "fake_bot", "can_join_groups": False,
            "can_read_all_group_messages": False, "supports_inline_queries": False}
TRUE_METHODS = {"deleteWebhook", "answerCallbackQuery", "setMyCommands", "sendChatAction", "deleteMessage"}
POLL_WAIT_MAX = 5.0


@dataclass
class Call:
    t: float  # time.monotonic() when it arrived
    method: str
    params: dict[str, Any]


@dataclass
class Approver:
    """Auto-approve: a card (an ``ap:`` button) gets a tap after ``delay`` s; ``defer`` of them only after ``late`` s
    (often past a restart), ``abandon`` of them never (they expire), and ``replay`` of the tapped ones a second time
    (a double tap)."""

    delay: tuple[float, float] = (0.05, 0.6)
    defer: float = 0.0
    late: tuple[float, float] = (2.0, 12.0)
    abandon: float = 0.0
    replay: float = 0.0
    seed: int = 1
    enabled: bool = True
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


def _parse(content_type: str, body: bytes) -> dict[str, Any]:
    """PTB posts form-encoded values (non-str values JSON-encoded); sendPhoto is multipart: only chat_id is read."""
    if content_type.startswith("multipart/"):
        m = re.search(rb'name="chat_id"\r\n\r\n(-?\d+)', body)
        return {"chat_id": int(m.group(1))} if m else {}
    if content_type.startswith("application/json"):
        return dict(json.loads(body or b"{}"))
    out: dict[str, Any] = {}
    for k, v in parse_qsl(body.decode(), keep_blank_values=True):
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


class FakeTelegram:
    """``FakeTelegram(user).start()``: ``.url`` for TELEGRAM_API_URL; ``.calls``; ``.push_*``; ``.close()``."""

    def __init__(self, user: int, approver: Approver | None = None, *, port: int = 0,
                 reject_token: int | None = None) -> None:
        self.user, self.approver = user, approver or Approver(enabled=False)
        self.reject_token = reject_token  # 401 or 404: every method answers as Telegram does for a bad token
        self.webhook: dict[str, Any] = {}  # what setWebhook stored
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.cards: dict[str, int] = {}  # confirmation id → message id of its latest card
        self.delivered: list[tuple[float, str]] = []  # (when, callback data) handed to the bot by getUpdates
        self.deferred: list[str] = []
        self.abandoned: list[str] = []
        self.tapped: dict[str, int] = {}
        self.cond = threading.Condition()
        self._next_update = 1
        self._next_message = 1
        self._timers: list[threading.Timer] = []
        self._closed = False
        self._httpd = _Server(("127.0.0.1", port), _handler(self))
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="fake-telegram")

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def close(self) -> None:
        with self.cond:
            self._closed = True
            self.cond.notify_all()
        for t in self._timers:
            t.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- what the bot did ----------------------------------------------------------------------
    def methods(self, since: float = 0.0) -> list[str]:
        with self.cond:
            return [c.method for c in self.calls if c.t >= since]

    def wait(self, pred: Callable[[], Any], timeout: float) -> Any:  # noqa: ASYNC109 - threads, not asyncio
        deadline = time.monotonic() + timeout
        with self.cond:
            while not (out := pred()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.2))
            return out

    # -- updates towards the bot ---------------------------------------------------------------
    def push(self, kind: str, payload: dict[str, Any]) -> None:
        with self.cond:
            self.updates.append({"update_id": self._next_update, kind: payload})
            self._next_update += 1
            self.cond.notify_all()

    def push_command(self, text: str, chat: int | None = None) -> None:
        cmd = text.split()[0]
        self.push("message", {"message_id": 10**6 + self._next_update, "date": int(time.time()),
                              "chat": {"id": chat or self.user, "type": "private"}, "from": self._from(),
                              "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(cmd)}]})

    def tap(self, data: str, message_id: int) -> None:
        """A tap on a button (``data``) of the delivered message ``message_id``."""
        msg = self.messages[message_id]
        self.tapped[data] = self.tapped.get(data, 0) + 1
        self.push("callback_query", {"id": f"cbq{self._next_update}", "from": self._from(),
                                     "chat_instance": "ci-1", "data": data, "message": msg})

    def _from(self) -> dict[str, Any]:
        return {"id": self.user, "is_bot": False, "first_name": "Tester", "username": "tester"}

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        if self._closed:
            return
        t = threading.Timer(delay, fn)
        t.daemon = True
        self._timers = [x for x in self._timers if x.is_alive()] + [t]
        t.start()

    def _on_card(self, message_id: int, data: str) -> None:
        conf = data[3:]
        self.cards[conf] = message_id
        a = self.approver
        if not a.enabled or data in self.tapped:
            return
        if a.rng.random() < a.abandon:
            self.abandoned.append(conf)
            return
        deferred = a.rng.random() < a.defer
        if deferred:
            self.deferred.append(conf)
        self._later(a.rng.uniform(*(a.late if deferred else a.delay)), lambda: self.tap(data, message_id))
        if a.rng.random() < a.replay:
            self._later(a.rng.uniform(1.0, 4.0), lambda: self.tap(data, message_id))

    # -- Bot API methods -----------------------------------------------------------------------
    def _message(self, chat: Any, text: str, markup: Any, message_id: int | None = None) -> dict[str, Any]:
        if message_id is None:
            message_id, self._next_message = self._next_message, self._next_message + 1
        msg: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "from": BOT_USER,
                               "chat": {"id": int(chat), "type": "private"}, "text": text}
        if markup:
            msg["reply_markup"] = markup
        return msg

    def api(self, method: str, p: dict[str, Any]) -> tuple[int, Any]:
        with self.cond:
            self.calls.append(Call(time.monotonic(), method, p))
            self.cond.notify_all()
        if self.reject_token is not None:
            return self.reject_token, "Unauthorized" if self.reject_token == 401 else "Not Found"
        if method == "getMe":
            return 200, BOT_USER
        if method in TRUE_METHODS:
            if method == "deleteWebhook":
                self.webhook = {}
            return 200, True
        if method == "setWebhook":
            self.webhook = dict(p)
            return 200, True
        if method == "getWebhookInfo":
            return 200, {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                         "pending_update_count": 0}
        if method == "getUpdates":
            return 200, self._get_updates(int(p.get("offset") or 0), float(p.get("timeout") or 0))
        if method in ("sendMessage", "sendPhoto"):
            with self.cond:
                msg = self._message(p.get("chat_id", self.user), str(p.get("text") or p.get("caption") or ""),
                                    p.get("reply_markup"))
                self.messages[msg["message_id"]] = msg
            for row in (p.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if str(button.get("callback_data", "")).startswith("ap:"):
                        self._on_card(msg["message_id"], button["callback_data"])
            return 200, msg
        if method in ("editMessageText", "editMessageReplyMarkup"):
            with self.cond:
                old = self.messages.get(int(p.get("message_id") or 0))
                if old is None:
                    return 400, "Bad Request: message to edit not found"
                text = str(p["text"]) if method == "editMessageText" else old["text"]
                msg = self._message(old["chat"]["id"], text, p.get("reply_markup"), old["message_id"])
                self.messages[msg["message_id"]] = msg
            return 200, msg
        return 404, "Not Found"

    def _get_updates(self, offset: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + min(timeout, POLL_WAIT_MAX)
        with self.cond:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed: forgotten
            while not self.updates and not self._closed and (left := deadline - time.monotonic()) > 0:
                self.cond.wait(left)
            out = list(self.updates)
            now = time.monotonic()
            self.delivered += [(now, u["callback_query"]["data"]) for u in out if "callback_query" in u]
            self.cond.notify_all()
            return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed bot resets its connections: expected
            super().handle_error(request, client_address)


def _handler(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            m = re.fullmatch(r"/bot[^/]+/(\w+)", self.path.partition("?")[0])
            if m is None:
                status, result = 404, "Not Found"
            else:
                status, result = fake.api(m.group(1), _parse(self.headers.get("Content-Type", ""), body))
            reply = ({"ok": True, "result": result} if status == 200
                     else {"ok": False, "error_code": status, "description": result})
            data = json.dumps(reply).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the bot gave up on a long poll (shutdown, kill)
                self.close_connection = True

        do_GET = do_POST

    return Handler
