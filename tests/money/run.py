"""Runs of the money model: the CI size, the long run (≥ 10,000 steps) and the hunt (the negative control).

``python -m tests.money`` (CI size), ``--long`` (figures into RELIABILITY.md), ``--find`` (every promise the
machine can break, each with the examples and steps it took to break first, and its example shrunk).

Hypothesis' own shrinker is not used for the hunt: each step costs a real bot cycle over HTTP, and on broken
examples of 20–40 steps it gave up after its five minutes with restarts still in them. The hunt records each
broken example's setup and steps (``stats.py``) and shrinks them by replaying with steps removed (halves, then
quarters ... then single steps) while the same promise still breaks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.money.invariants import Broken
from tests.money.machine import PROMISES, MoneyMachine
from tests.money.paths import replay
from tests.money.stats import STATS, Found, Step

QUIET = list(HealthCheck)  # each example builds a simulator, servers and a bot: "slow" is the point
NO_SHRINK = (Phase.explicit, Phase.generate)  # see the module docstring; a failure prints all its steps


def ci_settings() -> settings:
    """Small and fixed (derandomized, no example database) so CI is the same run every time."""
    return settings(max_examples=10, stateful_step_count=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=QUIET, phases=NO_SHRINK)


def long_settings(examples: int, steps: int) -> settings:
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                    suppress_health_check=QUIET, phases=NO_SHRINK)


def hunt_settings(examples: int, steps: int) -> settings:
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None, derandomize=True,
                    database=None, suppress_health_check=QUIET, phases=NO_SHRINK)


@dataclass
class Outcome:
    seconds: float
    examples: int
    steps: int
    rules: dict[str, int]
    found: dict[str, Found]
    broken: dict[str, int]
    failure: str = ""  # hypothesis' report of the broken promise that ended the run (not in the hunt)
    shrunk: dict[str, list[Step]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"examples: {self.examples}; steps: {self.steps} (each followed by one management cycle of the bot)",
               f"promise checks: {self.steps * PROMISES} ({PROMISES} after every step)",
               f"rules run: {dict(sorted(self.rules.items()))}",
               f"promises broken: {len(self.found)}" + (f" (examples breaking each: {self.broken})"
                                                        if self.broken else "")]
        for kind, f in sorted(self.found.items(), key=lambda kv: kv[1].step):
            out.append(f"  {kind}: first in example {f.example}, step {f.step} of the run (step "
                       f"{f.step_in_example} of its example): {f.text[:240]}")
            if kind in self.shrunk:
                out.append(f"    shrunk to {len(self.shrunk[kind])} steps from {len(f.trace)}: {f.setup}")
                out += [f"      {name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
                        for name, args in self.shrunk[kind]]
        out.append(f"wall time: {self.seconds:.0f} s")
        return out


def run(cfg: settings, *, hunt: bool = False, progress: bool = False) -> Outcome:
    """Run the machine under ``cfg``; a broken promise is part of the Outcome, never an exception."""
    logging.getLogger("tradebot").setLevel(logging.CRITICAL)  # the bot's own warnings under faults are expected
    STATS.reset(hunt)
    if progress:
        STATS.on_example = lambda n: n % 25 == 0 and print(
            f"  [{time.strftime('%H:%M:%S')}] example {n}, step {STATS.steps}", flush=True)
        STATS.on_first = lambda kind, f: print(
            f"  [{time.strftime('%H:%M:%S')}] {kind} first broken in example {f.example}, step {f.step} of the "
            f"run: {f.text[:300]}", flush=True)
    t0 = time.monotonic()
    failure = ""
    try:
        run_state_machine_as_test(MoneyMachine, settings=cfg)
    except Exception as exc:  # the broken promise (with its steps) is the result here
        failure = f"{type(exc).__name__}: {exc}\n" + "\n".join(getattr(exc, "__notes__", []))
    out = Outcome(time.monotonic() - t0, STATS.examples, STATS.steps, dict(STATS.rules), dict(STATS.found),
                  dict(STATS.broken), failure)
    STATS.reset()
    return out


def breaks(kind: str, found: Found, steps: list[Step]) -> bool:
    try:
        replay(found.setup, steps)
    except Broken as exc:
        return type(exc).__name__ == kind
    return False


def shrink(kind: str, found: Found, budget_s: float = 900) -> list[Step]:
    """The shortest sub-sequence of ``found``'s steps this search reaches that still breaks ``kind``."""
    steps, end = list(found.trace), time.monotonic() + budget_s
    if not breaks(kind, found, steps):
        return steps  # not reproduced on replay: kept as found
    n = max(1, len(steps) // 2)
    while n >= 1 and time.monotonic() < end:
        i, removed = 0, False
        while i < len(steps) and time.monotonic() < end:
            candidate = steps[:i] + steps[i + n:]
            if breaks(kind, found, candidate):
                steps, removed = candidate, True
            else:
                i += n
        n = n if removed and n > 1 else n // 2
    return steps
