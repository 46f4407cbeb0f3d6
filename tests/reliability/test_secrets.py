"""Secrets: a whole session at DEBUG (start, ticks, a card approved by a tap, every read command, a position
closed, an exchange auth failure whose raw Bybit message contains the API key) — the API key, the secret and the
bot token appear nowhere in the log output, in any Bot API call, or in the journal's outbox/audit."""

from __future__ import annotations

import io
import logging

from sqlmodel import select

from storage.db import make_engine, session_scope
from storage.models import AuditLog, OutboxMessage
from tests.engine.conftest import SYMBOL
from tests.reliability.tg import CHAT, start_rig, stop_rig
from tradebot.logs import setup_logging

API_KEY = "K3yReliab1l1tyXYZ"
API_SECRET = "S3cretReliab1l1tyQWERTY0123456789"
TOKEN = "987654321:AAHreliabilityTokenValue_0123456789abcdef"
SECRETS = (API_KEY, API_SECRET, TOKEN, TOKEN.split(":", 1)[1])


async def test_no_secret_in_debug_logs_or_any_message(tmp_path):
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    rig = None
    try:
        setup_logging("DEBUG", [API_KEY, API_SECRET, TOKEN], stream=buf)
        rig = await start_rig(tmp_path, key=API_KEY, secret=API_SECRET, token=TOKEN)
        hub, engine = rig.hub, rig.deps.engine
        card = await rig.card()
        hub.push_callback(CHAT, next(d for row in card.buttons for _, d in row if d and d.startswith("ap:")),
                          card.message_id)
        await hub.wait_idle(quiet=0.3)
        for cmd in ("/start", "/help", "/status", "/positions", "/balance", "/pnl", "/pnl all", "/trades",
                    "/signal BTCUSDT", "/risk 0.5", "/mode confirm", "/close BTCUSDT", "/stop", "/resume"):
            hub.push_message(CHAT, cmd)
            await hub.wait_idle(quiet=0.15)
        await engine.close(SYMBOL)
        rig.sim.api_keys[API_KEY] = "rotated-on-the-exchange"  # every private call now fails: 10004 error sign!
        for _ in range(2):  # Bybit's 10004 retMsg echoes origin_string[<ts><API key><recv><payload>]
            status = await engine.tick(SYMBOL)
        hub.push_message(CHAT, "/balance")
        await hub.wait_idle(quiet=0.3)
        assert not status.ok and "10004" in (status.error or "")
    finally:
        if rig is not None:
            await stop_rig(rig)
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    logs = buf.getvalue()
    assert " DEBUG " in logs and "/v5/" in logs and "***" in logs  # DEBUG on, and redaction actually worked
    calls = repr([(c.method, c.params) for c in hub.calls])
    db = make_engine(f"sqlite:///{tmp_path / 'journal.db'}")  # the app's engine was disposed at shutdown
    with session_scope(db) as s:
        stored = repr([(m.text, m.last_error) for m in s.exec(select(OutboxMessage)).all()]) + repr(
            [(a.args, a.result) for a in s.exec(select(AuditLog)).all()])
    db.dispose()
    print(f"\n  {len(logs.splitlines())} log lines at DEBUG, {len(hub.calls)} Bot API calls, "
          f"{len(hub.sent())} messages; redactions in the log: {logs.count('***')}")
    for secret in SECRETS:
        assert secret not in logs, f"secret in the logs: {secret[:4]}…"
        leak = [m.plain for m in hub.sent() if secret in m.plain]
        assert secret not in calls, f"secret sent to Telegram: {secret[:4]}… in {leak[:2]}"
        assert secret not in stored, f"secret stored in the journal: {secret[:4]}…"

