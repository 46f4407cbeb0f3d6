"""Hostile Telegram input against the real Application (offline hub): strangers get nothing back and are logged;
tampered or replayed button data does nothing; a 500-command flood leaves the bot responsive and the loop on time."""

from __future__ import annotations

import logging
import random
import string
import time

import pytest

from tests.engine.conftest import SYMBOL
from tests.reliability.tg import CHAT, GROUP, STRANGER, start_rig, stop_rig


@pytest.fixture
async def rig(tmp_path):
    r = await start_rig(tmp_path)
    yield r
    await stop_rig(r)


async def test_every_update_type_from_a_stranger_gets_nothing_back(rig, caplog):
    caplog.set_level(logging.WARNING, logger="handlers")
    hub = rig.hub
    card = await rig.card()
    cid = next(d for row in card.buttons for _, d in row if d and d.startswith("ap:"))[3:]
    await hub.wait_idle(quiet=0.2)
    calls_before = len(hub.calls)
    hub.push_message(STRANGER, "hello")
    hub.push_message(STRANGER, "/balance")
    hub.push_message(STRANGER, "/stop all")
    first = hub.push_message(STRANGER, "/status")["message"]["message_id"]
    hub.push_edited_message(STRANGER, first, "/positions")
    hub.push_channel_post(-100123, "/status")
    hub.push_message(GROUP, "/stop", user_id=CHAT, chat_type="supergroup")  # allowed user, foreign group
    forged = dict(card.raw, chat={"id": STRANGER, "type": "private", "first_name": "E"})
    for i, data in enumerate((f"ap:{cid}", f"rj:{cid}")):  # a real confirmation id, tapped from outside
        hub.push_update({"callback_query": {"id": f"evil{i}", "from": {"id": STRANGER, "is_bot": False,
                                                                       "first_name": "E"},
                                            "chat_instance": "x", "data": data, "message": forged}})
    assert await hub.wait_idle(quiet=0.3)
    denied = await rig.audited(9, allowed=False)  # every update went through the gate (it journals after)
    await hub.wait_idle(quiet=0.3)
    new_calls = [c for c in hub.calls[calls_before:] if c.method not in ("getUpdates",)]
    leaked = [c for c in new_calls if str(c.params.get("chat_id")) in (str(STRANGER), str(GROUP), "-100123")
              or str(c.params.get("callback_query_id", "")).startswith("evil")]
    assert not leaked, leaked  # not a message, an edit, an answer or a chat action
    assert rig.status(cid) == "pending" and rig.entries() == [] and not rig.deps.engine.settings.paused
    assert {a.update_kind for a in denied} >= {"message", "edited", "channel_post", "callback"}
    assert len(denied) == 9 and all(a.result == "unauthorised" for a in denied)
    assert caplog.text.count("not in TELEGRAM_ALLOWED_CHAT_IDS") == 9


def _garbage(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + ":_-/.;%'\"\\ \u00e9\u2603"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))


async def test_tampered_and_replayed_callbacks_do_nothing(rig):
    hub = rig.hub
    card = await rig.card()
    cid = next(d for row in card.buttons for _, d in row if d and d.startswith("ap:"))[3:]
    rng = random.Random(5)
    tampered = [f"ap:{cid}x", f"ap:{cid[:-1]}", f"ap:{cid[:-1]}{'A' if cid[-1] != 'A' else 'B'}", "ap:", "ap",
                f"AP:{cid}", f"ap:{cid};rj:{cid}", f"ap: {cid}", f"ap:{cid.upper()}", "ap:" + "A" * 60,
                "rj:nope", "cl:forgedtoken", "sa:forgedtoken", "no:forged", "uk:x:BTCUSDT", "uk:a:EVILUSDT",
                "uk:c:BTCUSDT:more", "zz:zz", "", ":", "ap:../../etc/passwd", "ap:' OR '1'='1",
                *(_garbage(rng) for _ in range(25)), *(f"ap:{_garbage(rng)}" for _ in range(15))]
    for data in tampered:
        n = len(hub.answers)
        hub.push_callback(CHAT, data, card.message_id)
        await hub._wait(lambda n=n: True if len(hub.answers) > n else None, 5)
    await hub.wait_idle(quiet=0.2)
    assert len(hub.answers) >= len(tampered)  # every tap was answered (no spinner left), nothing else happened
    assert rig.status(cid) == "pending" and rig.entries() == [] and not rig.deps.engine.settings.paused
    assert not [p for p in rig.sim.state()["positions"] if p["size"] not in ("0", "")]

    n = len(hub.answers)
    hub.push_callback(CHAT, f"ap:{cid}", card.message_id)  # the real tap: answered once the order is placed
    await hub._wait(lambda: True if len(hub.answers) > n else None, 15)  # slow on a loaded machine
    await hub.wait_idle(quiet=0.3)
    assert rig.status(cid) == "executed" and len(rig.entries()) == 1
    for data in (f"ap:{cid}", f"ap:{cid}", f"rj:{cid}", f"ap:{cid}"):  # replays of a used button
        n = len(hub.answers)
        hub.push_callback(CHAT, data, card.message_id)
        await hub._wait(lambda n=n: True if len(hub.answers) > n else None, 5)
    await hub.wait_idle(quiet=0.2)
    assert rig.status(cid) == "executed" and len(rig.entries()) == 1
    assert len([e for e in rig.sim.state()["executions"] if e["execType"] == "Trade"]) == 1


COMMANDS = ["/status", "/help", "/pnl", "/positions", "/balance", "/trades 5", "/signal BTCUSDT", "/pnl 7d",
            "/risk abc", "/mode nonsense", "/close DOGEUSDT", "/nonexistent", "hello", "/trades -1"]


async def test_flood_of_500_commands_keeps_bot_responsive_and_loop_on_schedule(tmp_path):
    rig = await start_rig(tmp_path, schedule_ticks=True, loop_seconds=1)
    try:
        hub, engine = rig.hub, rig.deps.engine
        ticks: list[float] = []
        real_tick = engine.tick

        async def timed_tick(symbol: str):  # noqa: ANN202
            out = await real_tick(symbol)
            ticks.append(time.monotonic())
            return out

        engine.tick = timed_tick
        t0 = time.monotonic()
        for i in range(500):  # 500 commands in ~2.5 s
            hub.push_message(CHAT, COMMANDS[i % len(COMMANDS)])
            if i % 50 == 49:
                await hub._wait(lambda: None, 0.25)
        flood_s = time.monotonic() - t0
        probe_sent = time.monotonic()
        before = {m.message_id for m in hub.sent(CHAT)}
        hub.push_message(CHAT, "/pnl 30d")  # the probe: the only command answered with "PnL 30d…"
        await hub.wait_for(lambda m: m.chat_id == CHAT and m.message_id not in before and m.plain.startswith("PnL 30d"),
                           timeout=90)
        latency = time.monotonic() - probe_sent
        await hub._wait(lambda: None, 1.5)
        during = [t for t in ticks if t0 <= t]
        gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
        replies = len([m for m in hub.sent(CHAT) if m.message_id not in before]) + len(before)
        print(f"\n  flood: 500 commands pushed in {flood_s:.1f} s; a probe command answered {latency:.1f} s after; "
              f"{replies} messages in the chat; ticks during/after: {len(during)}, "
              f"max gap {max(gaps, default=0):.2f} s (loop 1 s)")
        assert len(during) >= 3 and max(gaps) < 2.5, gaps
        assert not [m for m in hub.sent(CHAT) if "no trading tick has completed" in m.plain]  # health stayed green
        assert latency < 60
        assert engine.last_ticks[SYMBOL].ok
    finally:
        await stop_rig(rig)
