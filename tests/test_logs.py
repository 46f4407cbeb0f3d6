"""Secrets never reach the log: known values and anything shaped like a bot token are redacted."""

import io
import logging

from tradebot.logs import setup_logging

KEY, SECRET, TOKEN = "apikeyABCDEF123", "apisecretXYZ987654", "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ha"


def test_redaction_of_messages_args_and_tracebacks():
    out = io.StringIO()
    setup_logging("DEBUG", [KEY, SECRET, TOKEN], stream=out)
    log = logging.getLogger("tradebot.test")
    log.info("key=%s secret=%s", KEY, SECRET)
    log.debug("POST https://api.telegram.org/bot%s/sendMessage", TOKEN)
    log.info("unknown token 987654321:ZZEhBOweik6ad9r_QXMENQjcrGbqCr4K-ha leaked")
    try:
        raise RuntimeError(f"boom with {SECRET}")
    except RuntimeError:
        log.exception("failed")
    text = out.getvalue()
    for s in (KEY, SECRET, TOKEN, "987654321:ZZEh"):
        assert s not in text
    assert text.count("***") >= 5 and "boom with" in text


def test_httpx_is_quiet_even_at_debug():
    setup_logging("DEBUG", [], stream=io.StringIO())
    assert logging.getLogger("httpx").level >= logging.WARNING
