"""DATABASE_URL: which URLs the journal accepts, and the URL as it may be shown, with no password in any form.

A password can sit in the URL's user info (``postgresql://user:password@host/db``, also holding an unencoded ``@`` or
``/``), in a parameter (``?password=...``, libpq's ``password=...``), behind a mistyped or unknown scheme, or be
percent-encoded: :func:`url_secrets` finds it in each of these forms and :func:`shown_url` replaces it with ``***``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

DIALECTS = {"sqlite": ("pysqlite",), "postgresql": ("psycopg",), "postgres": ()}  # their drivers the bot has
EXAMPLE = "sqlite:///path/to/journal.db or postgresql://user:password@host:5432/db"
HIDDEN = "***"
PASSWORD_PARAM = re.compile(r"(?i)\b(password|passwd|pwd|sslpassword)(\s*=\s*)('[^']*'|[^\s&;]*)")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def _split(url: str) -> tuple[str, str, str | None, str] | None:
    """(``scheme://``, user, password or None, the rest from the ``@`` on) of a URL with user info, else None.

    The user info ends at the last ``@``: an unencoded ``@``, ``/``, ``?`` or ``#`` inside a password stays in it.
    """
    start = url.find("://")
    if start < 0:
        return None
    at = url.rfind("@")
    if at < start:  # no user info; but ``scheme://user:password`` without its ``@host`` is a password, not a port
        m = re.match(r"([^:/@?#\s]*):([^/?#\s]*)(.*)$", url[start + 3:], re.S)
        if m is None or not m.group(2) or m.group(2).isdigit():
            return None
        return url[:start + 3], m.group(1), m.group(2), m.group(3)
    user, colon, password = url[start + 3:at].partition(":")
    return url[:start + 3], user, password if colon else None, url[at:]


def url_secrets(url: str) -> list[str]:
    """Every password the URL holds, as written and percent-decoded (for redaction)."""
    found: list[str] = []
    parts = _split(url)
    if parts is not None and parts[2]:
        found.append(parts[2])
    found += [m.group(3).strip("'") for m in PASSWORD_PARAM.finditer(url) if m.group(3).strip("'")]
    return sorted({v for s in found for v in (s, unquote(s)) if v}, key=len, reverse=True)


def shown_url(url: str) -> str:
    """The URL with every password replaced by ``***`` (its user, host, port and database kept)."""
    parts = _split(url)
    if parts is not None and parts[2] is not None:
        url = f"{parts[0]}{parts[1]}:{HIDDEN}{parts[3]}"
    return PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", url)


def url_problem(url: str) -> str | None:
    """Why the journal cannot use ``url`` (in words, never quoting a password), or None when it can."""
    m = _SCHEME.match(url)
    if m is None:
        return f"must be a URL: {EXAMPLE}"
    dialect, _, driver = m.group(1).partition("+")
    if dialect not in DIALECTS:
        case = " (write the scheme in lower case)" if dialect.lower() in DIALECTS else ""
        return f"unknown database {dialect!r}{case}: the journal is SQLite or PostgreSQL: {EXAMPLE}"
    if driver and driver not in DIALECTS[dialect]:
        name = "sqlite" if dialect == "sqlite" else "postgresql"
        return (f"unknown driver {driver!r}: write {name}:// without a driver (the bot uses "
                f"{'pysqlite' if name == 'sqlite' else 'psycopg'})")
    parts = _split(url)
    if parts is not None and "@" in parts[1] + (parts[2] or ""):
        return "an @ inside the user name or password must be written %40 (percent-encoded)"
    if parts is not None and not parts[3].startswith("@"):
        return f"the user name and password must be followed by @host: {EXAMPLE}"
    if dialect == "sqlite":
        return None
    host = (parts[3][1:] if parts is not None else url[m.end():]).split("/", 1)[0].split("?", 1)[0]
    port = host.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in host.rsplit("]", 1)[-1] else None
    if port is not None and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return "the port after the host must be a number from 1 to 65535 (PostgreSQL's is 5432)"
    return None
