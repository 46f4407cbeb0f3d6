"""A DATABASE_URL's password is never printed, in any form it can be written (user info with unencoded @ or /,
percent-encoded, ``?password=``, libpq's ``password=``, a mistyped scheme, an unknown database or driver, a bad
port), on any exit path: the config error (start and ``health``), the journal that cannot be opened, ``bot.py
health``, and the log (tradebot/logs.py redaction, also of tracebacks)."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

import bot
from tradebot.logs import RedactingFilter, setup_logging
from tradebot.settings.config import ConfigErrors, load_config
from tradebot.settings.dburl import shown_url, url_problem, url_secrets
from wiring.health import check
from wiring.live import serve

TOKEN = "123456789:AAAbbbCCCdddEEEfffGGGhhhIIIjjjKKK"
GOOD_ENV = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": "42", "BYBIT_ENV": "paper"}
NOWHERE = "127.0.0.1:1"  # nothing listens there: the journal cannot be opened

# (form, DATABASE_URL, what must never be printed, the config accepts it)
FORMS = [
    ("plain", f"postgresql://tradebot:Pl41nPassw0rd@{NOWHERE}/tradebot", ["Pl41nPassw0rd"], True),
    ("postgres scheme", f"postgres://tradebot:Pl41nPassw0rd@{NOWHERE}/tradebot", ["Pl41nPassw0rd"], True),
    ("psycopg driver", f"postgresql+psycopg://tradebot:Pl41nPassw0rd@{NOWHERE}/tradebot", ["Pl41nPassw0rd"], True),
    ("mistyped scheme", "postgresq://tradebot:Typ0dPassw0rd@db/tradebot", ["Typ0dPassw0rd"], False),
    ("upper-case scheme", f"PostgreSQL://tradebot:Upp3rPassw0rd@{NOWHERE}/tradebot", ["Upp3rPassw0rd"], False),
    ("unknown database", "mysql://tradebot:MyS9lPassw0rd@db/tradebot", ["MyS9lPassw0rd"], False),
    ("unknown driver", f"postgresql+asyncpg://tradebot:Dr1verPassw0rd@{NOWHERE}/tradebot", ["Dr1verPassw0rd"], False),
    ("?password=", f"postgresql://tradebot@{NOWHERE}/tradebot?password=Qu3ryPassw0rd", ["Qu3ryPassw0rd"], True),
    ("&password= among others", f"postgresql://tradebot@{NOWHERE}/tradebot?sslmode=disable&password=Amp3rsPw0rd",
     ["Amp3rsPw0rd"], True),
    ("unencoded @", f"postgresql://tradebot:Unenc0ded@Passw0rd@{NOWHERE}/tradebot", ["Unenc0ded", "Passw0rd"],
     False),
    ("unencoded /", f"postgresql://tradebot:Sl4shed/Passw0rd@{NOWHERE}/tradebot", ["Sl4shed", "Passw0rd"], True),
    ("unencoded : # ?", f"postgresql://tradebot:C0l:on#Pa?ss@{NOWHERE}/tradebot", ["C0l:on#Pa", "Pa?ss"], True),
    ("percent-encoded @", f"postgresql://tradebot:Perc3nt%40Passw0rd@{NOWHERE}/tradebot",
     ["Perc3nt%40Passw0rd", "Perc3nt@Passw0rd", "Perc3nt"], True),
    ("bad port", "postgresql://tradebot:P0rtPassw0rd@127.0.0.1:abc/tradebot", ["P0rtPassw0rd"], False),
    ("port out of range", "postgresql://tradebot:P0rtPassw0rd@127.0.0.1:99999/tradebot", ["P0rtPassw0rd"], False),
    ("no host", "postgresql://tradebot:N0h0stPassw0rd", ["N0h0stPassw0rd"], False),
    ("libpq key=value", "host=db user=tradebot password=L1bpqPassw0rd", ["L1bpqPassw0rd"], False),
]
IDS = [f[0] for f in FORMS]


def write(tmp_path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def clean(text: str, secrets: list[str]) -> bool:
    return not any(s in text for s in secrets)


@pytest.mark.parametrize(("form", "url", "secrets", "valid"), FORMS, ids=IDS)
def test_config_error_names_the_key_without_the_password(form, url, secrets, valid, tmp_path, monkeypatch, capsys):
    try:
        cfg = load_config(GOOD_ENV | {"DATABASE_URL": url}, write(tmp_path, ""))
    except ConfigErrors as exc:
        errors = exc.errors
    else:
        errors = []
        assert cfg.env.DATABASE_URL == url
    assert [e.key for e in errors] == ([] if valid else ["DATABASE_URL"])
    assert clean(str(errors) + repr([e.value for e in errors]), secrets)
    assert (url_problem(url) is None) is valid
    if not valid:  # bot.py prints them: the start exits 2, `health` 1 (Docker reserves 2); one line each
        for argv, code in (([], 2), (["health"], 1)):
            monkeypatch.setattr("sys.argv", ["bot.py", *argv])
            for key in list(GOOD_ENV) + ["DATABASE_URL"]:
                monkeypatch.setenv(key, (GOOD_ENV | {"DATABASE_URL": url})[key])
            monkeypatch.chdir(tmp_path)
            assert bot.main(argv) == code
            out = capsys.readouterr()
            assert clean(out.out + out.err, secrets) and "Traceback" not in out.err
            assert out.err.splitlines()[1].startswith("  DATABASE_URL = ") and len(out.err.splitlines()) == 2


VALID = [f for f in FORMS if f[3]]


@pytest.mark.parametrize(("form", "url", "secrets", "valid"), VALID, ids=[f[0] for f in VALID])
def test_journal_error_and_health_show_the_url_without_the_password(form, url, secrets, valid, tmp_path, capsys):
    cfg = load_config(GOOD_ENV | {"DATABASE_URL": url}, write(tmp_path, ""))
    assert asyncio.run(serve(cfg)) == 1
    err = capsys.readouterr().err
    assert err.startswith("Cannot open the journal at ") and err.count("\n") == 1, err
    assert clean(err, secrets) and "***" in err
    code, line = check(cfg)
    assert code == 1 and line.startswith("unhealthy: cannot read the journal at ") and clean(line, secrets), line
    assert shown_url(url) in err and shown_url(url) in line


# The bot logs only with a valid configuration (the config error comes first); the log redaction also hides, by its
# shape alone, a password in any URL's user info or in a password parameter.
LOGGED = [f for f in FORMS if f[3] or "@" in f[1] or "password=" in f[1]]


@pytest.mark.parametrize(("form", "url", "secrets", "valid"), LOGGED, ids=[f[0] for f in LOGGED])
def test_logs_and_tracebacks_never_hold_the_password(form, url, secrets, valid, tmp_path):
    """With the configured secrets (a valid URL: the bot logs only then) and, for a password in a URL's user info
    or a password parameter, without them (what the log redaction finds by itself)."""
    known = load_config(GOOD_ENV | {"DATABASE_URL": url}, write(tmp_path, "")).secrets() if valid else []
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    try:
        setup_logging("DEBUG", known, stream=buf)
        log = logging.getLogger("tradebot.test")
        log.info("journal at %s", url)
        log.warning(f"connecting to {url} failed")  # noqa: G004 - a message built before logging, as libraries do
        try:
            raise ConnectionError(f"could not connect with {url!r}")
        except ConnectionError:
            log.exception("failed")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    text = buf.getvalue()
    assert clean(text, secrets if valid else secrets[:1]), text
    assert text.count("***") >= 3 and "could not connect with" in text
    assert clean(RedactingFilter(known).redact(url), secrets if valid else secrets[:1])
    assert clean(RedactingFilter([]).redact(f"open {url} now"), secrets[:1])


@pytest.mark.parametrize(("form", "url", "secrets", "valid"), FORMS, ids=IDS)
def test_every_form_of_password_is_found_and_hidden(form, url, secrets, valid):
    found = url_secrets(url)
    assert found and all(any(s in f for f in found) for s in secrets), found
    assert clean(shown_url(url), secrets)
    assert shown_url(url).count("***") == 1 and "tradebot" in shown_url(url)


def test_a_url_without_password_is_shown_as_is():
    for url in ("sqlite:///tradebot.db", "sqlite:////data/trade@bot.db", "postgresql://bot@db:5432/tradebot",
                "postgresql://db/tradebot?sslmode=require"):
        assert shown_url(url) == url and url_problem(url) is None and url_secrets(url) == []
