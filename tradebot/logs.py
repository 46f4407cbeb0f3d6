"""One logging setup for the whole app, with secrets (API key/secret, bot token) redacted from every record."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

_BOT_TOKEN = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b")
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    """Replaces every known secret, and anything shaped like a Telegram bot token, with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return _BOT_TOKEN.sub("***", text)

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


def setup_logging(level: str = "INFO", secrets: Iterable[str] = (), stream=None) -> RedactingFilter:
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
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram.ext.Updater", "matplotlib", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redactor
