"""The webhook server: python-telegram-bot's update handler (tornado), guarded so that the secret header and the
size are checked from the request's headers, before a byte of the body is read.

python-telegram-bot's own server reads the whole body (up to tornado's 100 MB default) and only then checks the
secret: eight 95 MB posts without a secret took the bot from 186 MB to 1.7 GB. Here the handler streams the body
(``stream_request_body``): ``prepare`` runs on the headers alone and answers 403 (no or wrong secret, not JSON) or
413 (``Content-Length`` over :data:`MAX_BODY_BYTES`) and closes the connection, so the body is never read. The
server itself refuses any body over the limit on any path (tornado's ``max_body_size``). Telegram's updates are a
few KB; the limit is 1 MB. The update is then handled by python-telegram-bot's own handler code.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from http import HTTPStatus
from typing import Any

import tornado.web
from telegram import Bot
from telegram.error import NetworkError, RetryAfter
from telegram.ext._utils.webhookhandler import TelegramHandler
from tornado.http1connection import HTTP1Connection
from tornado.httpserver import HTTPServer

from handlers.deps import App
from handlers.liveness import SERVER_KEY

log = logging.getLogger("handlers.webhook")
MAX_BODY_BYTES = 1 << 20  # 1 MB: Telegram's updates are small (a message is at most 4096 characters)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRY_FIRST, RETRY_MAX = 1.0, 30.0


@tornado.web.stream_request_body
class GuardedHandler(TelegramHandler):
    """PTB's handler, with every check made on the headers and the body read only after them."""

    def initialize(self, bot: Bot, update_queue: asyncio.Queue[object], secret_token: str) -> None:
        super().initialize(bot, update_queue, secret_token)
        self._chunks: list[bytes] = []
        self._size = 0

    def prepare(self) -> None:
        token = self.request.headers.get(SECRET_HEADER, "")
        if not self.secret_token or not hmac.compare_digest(token.encode(), self.secret_token.encode()):
            log.debug("webhook request without the right secret from %s: refused unread", self.request.remote_ip)
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        if self.request.headers.get("Content-Type") != "application/json":
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            log.warning("webhook request of %s bytes refused unread (the limit is %d)", length, MAX_BODY_BYTES)
            raise tornado.web.HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        if isinstance(self.request.connection, HTTP1Connection):  # a chunked body is cut off at the same limit
            self.request.connection.set_max_body_size(MAX_BODY_BYTES)

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > MAX_BODY_BYTES:  # never reached: the connection enforces the same limit
            raise tornado.web.HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        self._chunks.append(chunk)

    async def post(self) -> None:
        self.request.body = b"".join(self._chunks)
        await super().post()


class QuietApplication(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """No access log: the bot's own logging says what matters."""


class WebhookServer:
    """The guarded handler at ``path`` on ``listen:port``; refuses bodies over the limit on every path."""

    def __init__(self, listen: str, port: int, path: str, bot: Bot, update_queue: asyncio.Queue[object],
                 secret: str) -> None:
        self.listen, self.port = listen, port
        app = QuietApplication([(rf"/{path.strip('/')}/?", GuardedHandler,
                                 {"bot": bot, "update_queue": update_queue, "secret_token": secret})])
        self._http = HTTPServer(app, max_body_size=MAX_BODY_BYTES)
        self.running = False

    def start(self) -> None:
        """Listen (OSError when the address cannot be used)."""
        self._http.listen(self.port, address=self.listen)
        self.running = True

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        self._http.stop()
        await self._http.close_all_connections()


async def serve(app: App, listen: str, port: int, url: str, path: str, secret: str,
                allowed_updates: list[str]) -> WebhookServer:
    """Start the server, then register ``url`` and the secret with Telegram (``setWebhook``; network trouble is
    retried with backoff). The server is kept in ``bot_data`` (``liveness.webhook_running``, :func:`stop`)."""
    server = WebhookServer(listen, port, path, app.bot, app.update_queue, secret)
    server.start()
    app.bot_data[SERVER_KEY] = server
    delay = RETRY_FIRST
    while True:
        try:
            await app.bot.set_webhook(url=url, secret_token=secret, allowed_updates=allowed_updates,
                                      drop_pending_updates=False)
            return server
        except RetryAfter as exc:
            ra: Any = exc.retry_after
            delay = max(delay, ra.total_seconds() if hasattr(ra, "total_seconds") else float(ra))
        except NetworkError as exc:  # timeouts included; anything else (a refused URL) is raised
            log.warning("setWebhook failed (%s); retrying in %.0f s", exc, delay)
        await asyncio.sleep(delay)
        delay = min(RETRY_MAX, delay * 2)


async def stop(app: App) -> None:
    server = app.bot_data.pop(SERVER_KEY, None)
    if isinstance(server, WebhookServer):
        await server.stop()
