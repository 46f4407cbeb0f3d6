"""Secrets never reach the log: known values and anything shaped like a bot token are redacted."""

import io
import logging
from pathlib import Path

from tradebot.logs import setup_logging

pytest_plugins = ["pytester"]

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


LEAKS = '''
import io, logging, sys
from tradebot.logs import setup_logging

def test_a_sets_up_logging_on_streams_it_closes(capsys):
    stream = io.StringIO()
    setup_logging("INFO", [], stream=stream)
    setup_logging("INFO", [])  # bound to this test's captured sys.stderr
    stream.close()

def test_b_logs_later():
    logging.getLogger("later").warning("a record after the first test")
    assert not any(getattr(h, "stream", None) is not None and h.stream.closed for h in logging.getLogger().handlers)
'''


def test_a_test_that_sets_up_logging_leaves_no_handler_on_a_closed_stream(pytester, monkeypatch):
    """tests/conftest.py restores the root logger after each test: a later record meets no handler bound to a
    stream the earlier test closed ("--- Logging error ---" in the full suite before)."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_leak=LEAKS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "addopts=")
    result.assert_outcomes(passed=2)
    assert "Logging error" not in result.stderr.str() + result.stdout.str()
