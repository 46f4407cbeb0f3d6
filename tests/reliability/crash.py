"""Engine-level crash and restart: SIGKILL crash_driver K times mid order-create against the simulator process."""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from storage.db import make_engine
from storage.models import Confirmation, OrderRecord, TradeRecord
from tests.reliability.audit import Audit, audit, rows, settle_problems
from tests.reliability.chaos import zigzag_rows

ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "crash-key-1234", "crash-secret-5678"
CREATE_LATENCY_MS = 700


def write_csv(path: Path, n: int) -> None:
    with path.open("w") as fh:
        fh.write("timestamp_ms,open,high,low,close,volume\n")
        for r in zigzag_rows(n):
            fh.write(",".join(str(x) for x in r) + "\n")


class Proc:
    """A child process whose stdout lines are collected by a reader thread."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
        self.lines: queue.Queue[str] = queue.Queue()
        self.all: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    def close(self) -> None:
        """After the process ended: drain the readers and close the pipes."""
        for t in self._threads:
            t.join(timeout=5)
        for pipe in (self.p.stdout, self.p.stderr):
            if pipe is not None:
                pipe.close()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.all.append(line.rstrip())
            self.lines.put(line.rstrip())

    def _read_err(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self.err.append(line.rstrip())

    def wait_line(self, prefix: str, timeout: float) -> str | None:  # noqa: ASYNC109 - threads, not asyncio
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line.startswith(prefix):
                return line
        return None

    def kill(self) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(timeout=10)
        self.close()

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.close()


@dataclass
class CrashFigures:
    kills: int
    kill_modes: Counter[str] = field(default_factory=Counter)
    landed: Counter[str] = field(default_factory=Counter)  # what the journal/exchange looked like at the kill
    replays: Counter[str] = field(default_factory=Counter)
    approvals: Counter[str] = field(default_factory=Counter)
    replay_executed_twice: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    deferred: int = 0
    expired: int = 0
    stuck_confirmations: list[str] = field(default_factory=list)
    settle_exit: int | None = None
    seconds: float = 0.0
    audit: Audit | None = None
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"SIGKILLs: {self.kills} ({dict(sorted(self.kill_modes.items()))})",
            f"state found at the kills: {dict(sorted(self.landed.items()))}",
            f"approvals while running: {dict(sorted(self.approvals.items()))}",
            f"re-answers after restart (journal status -> outcome): {dict(sorted(self.replays.items()))}",
            f"cards left unanswered for a while: {self.deferred}; expired unanswered: {self.expired}",
            f"confirmations executed twice: {len(self.replay_executed_twice)}; left pending/approved/executing: "
            f"{len(self.stuck_confirmations)}",
        ]
        out += [f"{k}: {v}" for k, v in (self.audit.figures() if self.audit else {}).items()]
        out += [f"pending card approved after a restart, not traded: {n}" for n in self.notes]
        out += [f"wall time: {self.seconds:.1f} s", f"problems: {self.problems or 'none'}"]
        return out


def start_sim_process(csv: Path, state_file: Path) -> tuple[Proc, str]:
    """``python -m tradebot.sim`` replaying ``csv`` (150 candles of warm-up) with a state file; returns it and its URL."""
    sim = Proc([sys.executable, "-m", "tradebot.sim", "--host", "127.0.0.1", "--port", "0", "--api-key", KEY,
                "--api-secret", SECRET, "--data", str(csv), "--warmup", "150", "--state-file", str(state_file)])
    line = sim.wait_line("listening on ", 30)
    assert line, f"simulator did not start: {sim.err[-5:]}"
    return sim, line.split()[-1]


def kill_around_approval(rng: random.Random, proc: Proc, approval: Callable[[], bool], no_approval: str,
                         fig: Any, http: httpx.Client, db: Engine) -> None:
    """SIGKILL ``proc`` at a random moment (at the approval, mid order create, after it, or anywhere), then count
    what had landed on the exchange vs the journal at that instant in ``fig``."""
    mode = rng.choice(("at-approve", "mid-create", "mid-create", "after-create", "random"))
    if mode == "random":
        time.sleep(rng.uniform(0.2, 3.0))
    elif not approval():
        mode = no_approval
    else:
        lo, hi = {"at-approve": (0.0, 0.08), "mid-create": (0.08, CREATE_LATENCY_MS / 1000 - 0.05),
                  "after-create": (0.7, 1.4)}[mode]
        time.sleep(rng.uniform(lo, hi))
    proc.kill()
    fig.kill_modes[mode] += 1
    for what in snapshot(http.get("/sim/state").json(), db):
        fig.landed[what] += 1


def snapshot(state: dict[str, Any], db: Engine) -> list[str]:
    """Classify the moment of a kill: an order on the exchange the journal has not recorded as filled, etc."""
    orders = {o.order_link_id: o for o in rows(db, OrderRecord) if o.purpose == "entry"}
    on_exchange = {e["orderLinkId"] for e in state["executions"] if e["orderLinkId"].startswith("en-")}
    out = []
    for link, o in orders.items():
        if o.trade_id is None and link in on_exchange:
            out.append("entry filled on the exchange, not yet in the journal")
        elif o.trade_id is None and o.status in ("Sent", "Unknown"):
            out.append("entry journaled as sent, not on the exchange")
    confs = rows(db, Confirmation)
    out += ["confirmation claimed, order not journaled" for c in confs if c.status in ("approved", "executing")
            and c.order_link_id is None and not any(o.confirmation_id == c.id for o in orders.values())]
    return out or ["between actions"]


class CrashRun:
    def __init__(self, kills: int, workdir: Path, *, seed: int = 3, step_s: float = 1.0) -> None:
        self.kills, self.dir, self.rng, self.step_s = kills, workdir, random.Random(seed), step_s
        self.db_path = workdir / "journal.db"
        self.fig = CrashFigures(kills)

    def _driver(self, *extra: str) -> Proc:
        return Proc([sys.executable, "-m", "tests.reliability.crash_driver", "--url", self.url, "--db",
                     str(self.db_path), "--defer", "0.15", *extra],
                    env={"BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET})

    def _stepper(self, stop: threading.Event, http: httpx.Client) -> None:
        while not stop.wait(self.step_s):
            http.post("/sim/step", json={"n": 1})

    def _count(self, proc: Proc) -> None:
        for line in proc.all:
            parts = line.split()
            if parts[0] == "REPLAY":
                conf, before, after = parts[1:4]
                if before == "pending" and after == "failed":
                    self.fig.notes.append(" ".join(parts[4:]))
                self.fig.replays[f"{before}->{after}"] += 1
                if before != "pending" and after == "executed":
                    self.fig.replay_executed_twice.append(conf)
            elif parts[0] == "DEFER":
                self.fig.deferred += 1
            elif parts[0] == "OUTCOME":
                self.fig.approvals[parts[2]] += 1

    def run(self) -> CrashFigures:
        t0 = time.monotonic()
        csv = self.dir / "candles.csv"
        write_csv(csv, 150 + int(self.kills * 6 + 200))
        sim, self.url = start_sim_process(csv, self.dir / "sim-state.json")
        stop = threading.Event()
        db = make_engine(f"sqlite:///{self.db_path}")
        with httpx.Client(base_url=self.url, timeout=10) as http:
            http.post("/sim/faults", json={"latency_ms": CREATE_LATENCY_MS, "paths": ["/v5/order/create"]})
            stepper = threading.Thread(target=self._stepper, args=(stop, http), daemon=True)
            stepper.start()
            try:
                for _ in range(self.kills):
                    self._one_kill(http, db)
                stop.set()
                stepper.join()
                http.post("/sim/faults", json={})
                settle = self._driver("--settle", "6", "--clock-offset", "3600")  # leftover cards expire
                self.fig.settle_exit = settle.p.wait(timeout=120)
                settle.close()
                self._count(settle)
                state = http.get("/sim/state").json()
            finally:
                stop.set()
                sim.stop()
        self.fig.audit = audit(state, db)
        confs = rows(db, Confirmation)
        self.fig.stuck_confirmations = [f"{c.id}:{c.status}" for c in confs
                                        if c.status in ("approved", "executing", "pending")]
        self.fig.expired = sum(1 for c in confs if c.status == "expired")
        problems = settle_problems(self.fig.audit)
        if self.fig.settle_exit != 0:
            problems.append(f"the final run exited {self.fig.settle_exit}: {settle.err[-5:]}")
        if self.fig.replay_executed_twice:
            problems.append(f"confirmations executed again after a restart: {self.fig.replay_executed_twice}")
        if self.fig.stuck_confirmations:
            problems.append(f"confirmations left pending/approved/executing: {self.fig.stuck_confirmations}")
        trades = rows(db, TradeRecord)
        if any(t.qty <= Decimal(0) for t in trades):
            problems.append("a trade with qty <= 0")
        self.fig.problems = problems
        db.dispose()
        self.fig.seconds = time.monotonic() - t0
        return self.fig

    def _one_kill(self, http: httpx.Client, db: Engine) -> None:
        proc = self._driver()
        ready = proc.wait_line("READY", 60)
        assert ready, f"driver did not start: {proc.err[-10:]}"
        kill_around_approval(self.rng, proc, lambda: proc.wait_line("APPROVE", 6) is not None,
                             "no approval within 6 s", self.fig, http, db)
        self._count(proc)
