"""Crash and restart of the real ``bot.py``: SIGKILLs mid order-create, the simulator, a fake Bot API."""

from __future__ import annotations

import json
import random
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from storage.db import make_engine
from storage.models import Confirmation, InstanceLock
from tests.reliability.audit import Audit, audit, rows, settle_problems
from tests.reliability.chaos import chaos_config
from tests.reliability.crash import (
    CREATE_LATENCY_MS,
    KEY,
    SECRET,
    Proc,
    kill_around_approval,
    start_sim_process,
    write_csv,
)
from tests.reliability.fake_tg import Approver, FakeTelegram
from tradebot.settings.config import load_file_config

ROOT = Path(__file__).resolve().parents[2]
USER = 4242
TOKEN = "123456:" + "T" * 32

EXPIRY_S = 30
UNSETTLED = ("approved", "executing")


def toml(data: dict[str, Any], prefix: str = "") -> str:
    """A TOML document for nested dicts of str/number/bool/list values (None dropped)."""
    out = [f"[{prefix}]"] if prefix else []
    out += [f"{k} = {json.dumps(v)}" for k, v in data.items() if not isinstance(v, dict) and v is not None]
    for k, v in data.items():
        if isinstance(v, dict):
            out += ["", toml(v, f"{prefix}.{k}" if prefix else k)]
    return "\n".join(out)


def write_config(path: Path) -> None:
    """The chaos run's strategy and risk (EMA-only, tight SL/TP) with a 1 s loop and 30 s card expiry."""
    data = chaos_config().file.model_dump(mode="json", exclude_none=True)
    data["bot"] |= {"loop_seconds": 1, "confirmation_expiry_seconds": EXPIRY_S}
    path.write_text(toml(data) + "\n")
    assert load_file_config(path)[0].model_dump(mode="json", exclude_none=True) == data


@dataclass
class BotCrashFigures:
    kills: int
    kill_modes: Counter[str] = field(default_factory=Counter)
    landed: Counter[str] = field(default_factory=Counter)
    starts: int = 0
    refused: list[str] = field(default_factory=list)  # starts that exited before polling (e.g. exit 3, lock)
    start_seconds: list[float] = field(default_factory=list)
    cards: int = 0
    taps: int = 0
    replayed_taps: int = 0
    retaps: int = 0
    deferred: int = 0
    abandoned: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    final_taps: int = 0
    expired: int = 0
    pending_fresh: list[str] = field(default_factory=list)
    stuck_confirmations: list[str] = field(default_factory=list)
    final_exit: int | None = None
    lock_left: str | None = None
    seconds: float = 0.0
    audit: Audit | None = None
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        starts = self.start_seconds or [0.0]
        out = [
            f"SIGKILLs of bot.py: {self.kills} ({dict(sorted(self.kill_modes.items()))})",
            f"state found at the kills: {dict(sorted(self.landed.items()))}",
            f"bot.py starts: {self.starts} (refused or died before polling: {len(self.refused)}); start → polling "
            f"median {statistics.median(starts):.1f} s, max {max(starts):.1f} s",
            f"cards delivered: {self.cards}; taps: {self.taps} (repeated: {self.replayed_taps}, of which an old card "
            f"after a restart: {self.retaps}; answered late: {self.deferred}; never answered: {self.abandoned}; "
            f"tapped in the final run: {self.final_taps})",
            f"tap answers by outcome: {dict(sorted(self.answers.items()))}",
            f"expired unanswered: {self.expired}; pending at the end (fresh re-asks, still answerable): "
            f"{len(self.pending_fresh)}",
            f"confirmations left approved/executing: {len(self.stuck_confirmations)}",
            f"final run: exit {self.final_exit}, instance lock left behind: {self.lock_left or 'none'}",
        ]
        out += [f"{k}: {v}" for k, v in (self.audit.figures() if self.audit else {}).items()]
        out += [f"wall time: {self.seconds:.1f} s", f"problems: {self.problems or 'none'}"]
        return out


def outcome_of(text: str) -> str:
    """A coarse label for the bot's answer to a tap (answerCallbackQuery text)."""
    low = text.lower()
    for word in ("already", "expired", "stale", "price moved", "failed", "unknown", "order sent", "filled", "opened"):
        if word in low:
            return word
    return text[:30]


class BotCrashRun:
    def __init__(self, kills: int, workdir: Path, *, seed: int = 3, step_s: float = 1.0) -> None:
        self.kills, self.dir, self.rng, self.step_s = kills, workdir, random.Random(seed), step_s
        self.db_path = workdir / "journal.db"
        self.cfg_path = workdir / "config.toml"
        self.fig = BotCrashFigures(kills)
        self.fake = FakeTelegram(USER, Approver(defer=0.2, abandon=0.05, replay=0.2, seed=seed))

    def _bot(self) -> Proc:
        self.fig.starts += 1
        return Proc([sys.executable, str(ROOT / "bot.py"), "--config", str(self.cfg_path)], env={
            "BYBIT_ENV": self.url, "BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET, "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_ALLOWED_CHAT_IDS": str(USER), "TELEGRAM_API_URL": self.fake.url, "LOG_LEVEL": "WARNING",
            "DATABASE_URL": f"sqlite:///{self.db_path}", "CONFIG_FILE": "", "PTB_TIMEDELTA": "true"})

    def _start(self) -> tuple[Proc, float] | None:
        """Start bot.py and wait until it polls the fake (lock taken, engine started, jobs scheduled)."""
        t0 = time.monotonic()
        proc = self._bot()
        polling = self.fake.wait(lambda: proc.p.poll() is not None or "getUpdates" in self.fake.methods(t0), 60)
        if proc.p.poll() is not None or not polling:
            proc.kill()
            self.fig.refused.append(f"exit {proc.p.returncode}: {' | '.join(proc.err[-3:])}")
            return None
        self.fig.start_seconds.append(time.monotonic() - t0)
        return proc, time.monotonic()

    def _stepper(self, stop: threading.Event, http: httpx.Client) -> None:
        """One bar per ``step_s``; a position held for 2 steps is ended on the exchange (price past its SL or TP)."""
        rng, held = random.Random(self.rng.random()), 0
        while not stop.wait(self.step_s):
            live = [p for p in http.get("/sim/state").json()["positions"] if Decimal(p["size"] or "0") > 0]
            held = held + 1 if live else 0
            if held < 2:
                http.post("/sim/step", json={"n": 1})
                continue
            p, held = live[0], 0
            sign = Decimal(1 if p["side"] == "Buy" else -1)
            if rng.random() < 0.4 and Decimal(p["takeProfit"] or "0") > 0:
                target = Decimal(p["takeProfit"]) + sign * 10
            else:
                stop_price = Decimal(p["stopLoss"] or "0") or Decimal(p["avgPrice"]) * (1 - sign * Decimal("0.01"))
                target = stop_price - sign * 10
            http.post("/sim/price", json={"symbol": p["symbol"], "price": str(target)})

    def _approval_after(self, since: float, timeout: float) -> bool:  # noqa: ASYNC109 - threads, not asyncio
        return bool(self.fake.wait(lambda: any(t >= since and d.startswith("ap:") for t, d in self.fake.delivered),
                                   timeout))

    def _one_kill(self, http: httpx.Client, db: Engine) -> None:
        started = self._start()
        if started is None:
            return
        proc, ready = started
        handled = sorted(c for c, n in self.fake.tapped.items() if n)
        if handled and self.rng.random() < 0.5:  # an old card tapped again after the restart: must do nothing
            data = self.rng.choice(handled)
            self.fake.tap(data, self.fake.cards[data[3:]])
            self.fig.retaps += 1
        kill_around_approval(self.rng, proc, lambda: self._approval_after(ready, 8), "no approval within 8 s",
                             self.fig, http, db)

    def _final(self, db: Engine) -> None:
        """No kills, no new bars: every card still pending is tapped once delivered (the user answering late, after
        the restart); then SIGTERM."""
        self.fake.approver.defer = 0.0
        started = self._start()
        if started is None:
            return
        proc, _ = started
        tapped: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            confs = rows(db, Confirmation)
            for c in confs:
                if c.status == "pending" and c.id not in tapped and c.id in self.fake.cards:
                    tapped.add(c.id)
                    self.fake.tap(f"ap:{c.id}", self.fake.cards[c.id])
            if all(c.status not in (*UNSETTLED, "pending") or (c.status == "pending" and c.id in tapped)
                   for c in confs) and not self._unanswered():
                break
            time.sleep(0.5)
        self.fig.final_taps = len(tapped)
        proc.stop()
        self.fig.final_exit = proc.p.returncode

    def _unanswered(self) -> int:
        """Taps pushed to the fake that neither the bot answered nor a kill swallowed (the final run: none)."""
        with self.fake.cond:
            answered = {c.params.get("callback_query_id") for c in self.fake.calls if c.method == "answerCallbackQuery"}
            return sum(1 for u in self.fake.updates if "callback_query" in u and u["callback_query"]["id"] not in answered)

    def run(self) -> BotCrashFigures:
        t0 = time.monotonic()
        write_config(self.cfg_path)
        csv = self.dir / "candles.csv"
        write_csv(csv, 150 + int(self.kills * 8 + 200))
        sim, self.url = start_sim_process(csv, self.dir / "sim-state.json")
        self.fake.start()
        stop = threading.Event()
        db = make_engine(f"sqlite:///{self.db_path}")
        try:
            with httpx.Client(base_url=self.url, timeout=10) as http:
                http.post("/sim/faults", json={"latency_ms": CREATE_LATENCY_MS, "paths": ["/v5/order/create"]})
                stepper = threading.Thread(target=self._stepper, args=(stop, http), daemon=True)
                stepper.start()
                for _ in range(self.kills):
                    self._one_kill(http, db)
                stop.set()
                stepper.join()
                http.post("/sim/faults", json={})
                self._final(db)
                state = http.get("/sim/state").json()
        finally:
            stop.set()
            self.fake.close()
            sim.stop()
        self._figures(state, db)
        db.dispose()
        self.fig.seconds = time.monotonic() - t0
        return self.fig

    def _figures(self, state: dict[str, Any], db: Engine) -> None:
        fig, fake = self.fig, self.fake
        fig.cards = len(fake.cards)
        fig.taps = sum(fake.tapped.values())
        fig.replayed_taps = sum(n - 1 for n in fake.tapped.values())
        fig.deferred = len(fake.deferred)
        fig.abandoned = len(fake.abandoned)
        for c in fake.calls:
            if c.method == "answerCallbackQuery":
                fig.answers[outcome_of(str(c.params.get("text", "")))] += 1
        fig.audit = audit(state, db)
        confs = rows(db, Confirmation)
        fig.expired = sum(1 for c in confs if c.status == "expired")
        fig.stuck_confirmations = [f"{c.id}:{c.status}" for c in confs if c.status in UNSETTLED]
        now = time.time()
        pending = [c for c in confs if c.status == "pending"]
        fig.pending_fresh = [c.id for c in pending if c.expires_at.replace(tzinfo=c.expires_at.tzinfo or UTC).timestamp()
                             > now - 5]  # the expiry job runs every 5 s
        lock = rows(db, InstanceLock)
        fig.lock_left = lock[0].owner if lock else None
        problems = settle_problems(fig.audit)
        if fig.refused:
            problems.append(f"bot.py did not come up after a kill: {fig.refused[:3]}")
        if fig.final_exit != 0:
            problems.append(f"the final run exited {fig.final_exit}")
        if fig.lock_left:
            problems.append(f"the instance lock was left held by {fig.lock_left}")
        if fig.stuck_confirmations:
            problems.append(f"confirmations left approved/executing: {fig.stuck_confirmations}")
        if len(pending) != len(fig.pending_fresh):
            problems.append(f"pending confirmations past their expiry: {sorted(set(c.id for c in pending))}")
        if self._unanswered():
            problems.append(f"{self._unanswered()} taps never answered in the final run")
        fig.problems = problems
