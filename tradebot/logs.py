"""One logging setup for the whole app; secrets are redacted from every record and from stderr hooks."""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
import warnings
from collections.abc import Iterable
from types import TracebackType
from typing import TextIO

from tradebot.settings.dburl import PASSWORD_PARAM

_BOT_TOKEN = re.compile(r"(?<![0-9])\d{5,12}:[A-Za-z0-9_-]{30,}")
# a URL's password, up to the URL's last @ (it may hold an unencoded @, /, ? or #)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)\S*@", re.IGNORECASE)
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# chatty libraries kept at WARNING or above (httpx logs URLs, which carry the bot token)
QUIET = ("httpx", "httpcore", "apscheduler", "telegram.ext.Updater", "matplotlib", "urllib3", "tornado", "alembic")


class RedactingFilter(logging.Filter):
    """Replaces every known secret, anything shaped like a Telegram bot token, and URL passwords with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        text = _URL_PASSWORD.sub(r"\1***@", _BOT_TOKEN.sub("***", text))
        return PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)  # ?password=..., password=...

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = self.redact(msg)
        if clean != msg or record.args:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def _write(redactor: RedactingFilter, text: str) -> None:
    stream = sys.stderr
    if stream is not None:
        stream.write(redactor.redact(text))
        stream.flush()


_active: RedactingFilter | None = None


def redact(text: str) -> str:
    """``text`` with the secrets of the installed stderr hooks replaced (for the few plain ``print``s to stderr)."""
    return _active.redact(text) if _active is not None else RedactingFilter().redact(text)


def install_stderr_hooks(redactor: RedactingFilter) -> None:
    """What reaches stderr outside logging is redacted too: uncaught exceptions (main thread, other threads,
    unraisable ones) and warnings. asyncio's default exception handler logs through logging (redacted there)."""

    def excepthook(tp: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _write(redactor, "".join(traceback.format_exception(tp, exc, tb)))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        _write(redactor, f"Exception in thread {name}:\n"
               + "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))

    def unraisable_hook(args: sys.UnraisableHookArgs) -> None:
        head = f"{args.err_msg or 'Exception ignored in'}: {args.object!r}\n"
        _write(redactor, head + "".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                                   args.exc_traceback)))

    def showwarning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: TextIO | None = None, line: str | None = None) -> None:
        text = redactor.redact(warnings.formatwarning(message, category, filename, lineno, line))
        target = file if file is not None else sys.stderr
        if target is not None:
            target.write(text)

    global _active
    _active = redactor
    sys.excepthook = excepthook
    threading.excepthook = thread_hook
    sys.unraisablehook = unraisable_hook
    warnings.showwarning = showwarning


def setup_logging(level: str = "INFO", secrets: Iterable[str] = (), stream: TextIO | None = None) -> RedactingFilter:
    """Configure the root logger once; quiet chatty libraries (httpx logs URLs, which carry the bot token)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    redactor = RedactingFilter(secrets)
    handler.addFilter(redactor)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redactor
