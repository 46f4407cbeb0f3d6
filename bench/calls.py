"""Calls benchmark: one trading tick followed call by call (every Python call made by the project's own code).

Two ticks run on the in-process simulator with a SQLite journal: the first enters a trade, the second (the price
past the break-even trigger) moves its stop. For each, a profiler hook on every thread records which project file
calls which, and counts:

- files visited and calls from one file into another;
- calls that come back up: into a file that is already on the call chain below (A → B → A: B calls back into
  its caller's file) — the mark of a forwarding layer or a callback;
- calls up the package order (basics < storage < the core < handlers < wiring): a lower package calling a
  higher one's code;
- calls from the core into storage and from storage into the core.

A structure figure, not a timing: the numbers only change when the code's shape does.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

DESCRIPTION = "calls: one trading tick (an entry, then a stop move) followed call by call: files, calls back up"

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tradebot", "storage", "handlers", "wiring")
BASICS = {"tradebot/side.py", "tradebot/money.py", "tradebot/timeutil.py", "tradebot/states.py",
          "tradebot/errors.py", "tradebot/intents.py", "tradebot/outcome.py"}
RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
SYMBOL, KEY, SECRET = "BTCUSDT", "calls-key", "calls-secret"


def layer(path: str) -> int:
    """The package order: basics 0, storage 1, the core 2, handlers 3, wiring 4."""
    if path in BASICS:
        return 0
    return {"storage": 1, "tradebot": 2, "handlers": 3, "wiring": 4}[path.split("/", 1)[0]]


@dataclass
class Follow:
    """What one traced run saw."""

    files: set[str] = field(default_factory=set)
    cross: int = 0  # calls from one project file into another
    back_up: int = 0  # calls into a file already on the chain below
    upward: int = 0  # calls up the package order
    core_to_storage: int = 0
    storage_to_core: int = 0
    back_up_pairs: Counter[tuple[str, str]] = field(default_factory=Counter)

    def line(self, name: str) -> str:
        return (f"{name:<10} {len(self.files):>3} files, {self.cross:>5} calls between files, {self.back_up:>4} back "
                f"up, {self.upward:>3} up the package order, core→storage {self.core_to_storage}, "
                f"storage→core {self.storage_to_core}")


class Tracer:
    """A ``sys.setprofile`` hook for every thread, keeping each thread's chain of project files."""

    def __init__(self) -> None:
        self.follow = Follow()
        self._chains: dict[int, list[str | None]] = {}
        self._roots = tuple(str(ROOT / p) + "/" for p in PACKAGES)
        self._names: dict[str, str | None] = {}
        self._seen: dict[int, FrameType] = {}

    def _project(self, filename: str) -> str | None:
        name = self._names.get(filename, ...)
        if name is ...:
            name = filename[len(str(ROOT)) + 1:] if filename.startswith(self._roots) else None
            self._names[filename] = name
        return name  # type: ignore[return-value]

    def hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if event not in ("call", "return"):
            return
        chain = self._chains.setdefault(threading.get_ident(), [])
        if event == "return":
            if chain:
                chain.pop()
            return
        here = self._project(frame.f_code.co_filename)
        caller = next((f for f in reversed(chain) if f is not None), None)
        chain.append(here)
        if frame.f_code.co_flags & RESUMABLE:
            if id(frame) in self._seen:  # a generator or coroutine resumed (an await, a next()): not a new call
                return
            self._seen[id(frame)] = frame  # kept alive, so its id is not reused by another frame
        if here is None or caller is None or here == caller:
            if here is not None:
                self.follow.files.add(here)
            return
        f = self.follow
        f.files.add(here)
        f.cross += 1
        if here in chain[:-1]:
            f.back_up += 1
            f.back_up_pairs[(caller, here)] += 1
        if layer(here) > layer(caller):
            f.upward += 1
        if caller.startswith("tradebot/") and here.startswith("storage/"):
            f.core_to_storage += 1
        if caller.startswith("storage/") and here.startswith("tradebot/"):
            f.storage_to_core += 1

    def __enter__(self) -> Tracer:
        threading.setprofile(self.hook)
        sys.setprofile(self.hook)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def _rows(n: int) -> list[tuple[int, str, str, str, str, str]]:
    rows, prev = [], 50000.0
    for i in range(n):
        close = 50000.0 + 5.0 * (i + 1)
        rows.append((1_750_000_000_000 + i * 300_000, f"{prev:.1f}", f"{max(prev, close) + 15:.1f}",
                     f"{min(prev, close) - 15:.1f}", f"{close:.1f}", "10"))
        prev = close
    return rows


async def follow_ticks() -> tuple[Follow, Follow]:
    from proving.sim import BookParams, Simulator
    from storage.db import init_db, make_engine
    from storage.journal import Journal
    from tradebot.bybit.client import BybitClient, RetryPolicy
    from tradebot.events import EntryFilled
    from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig
    from tradebot.sizing.execution import MARKET_ENTRIES
    from tradebot.sizing.risk import RiskParams
    from tradebot.strategy import StrategyParams
    from tradebot.strategy.indicators import BY_NAME
    from tradebot.tick.engine import TradingEngine

    strategy: dict[str, Any] = {name: {"enabled": name == "ema"} for name in BY_NAME}
    strategy |= {"threshold": 0.5, "higher_timeframes": [], "orderbook": {"enabled": False},
                 "ema": {"enabled": True, "weight": 1.0, "fast": 5, "slow": 20}}
    bot = BotSettings(symbols=[SYMBOL], interval="5", candles=200, mode="auto", unknown_position_wait_seconds=0)
    risk = RiskParams.model_validate({"sl_atr": "1.5", "tp_atr": "3.0", "max_fee_share": "0.5",
                                      "trailing_mode": "bot", "cooldown_minutes": 0})
    cfg = Config(env=EnvSettings(), file=FileConfig(execution=MARKET_ENTRIES, bot=bot, risk=risk,
                                                    strategy=StrategyParams.model_validate(strategy)),
                 source="bench", demo=True)
    sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: _rows(300)}, warmup=250, rate_limits=False,
                    book=BookParams.zero(), api_key=KEY, api_secret=SECRET, balance=Decimal("10000"))
    db = make_engine("sqlite://")
    init_db(db)
    client = BybitClient("http://sim.local", KEY, SECRET, transport=sim.transport(),
                         retry=RetryPolicy(attempts=2, base_delay=0.0))
    journal = Journal(db)
    engine = TradingEngine(cfg, client, journal)
    fills: list[EntryFilled] = []
    engine.bus.subscribe(lambda ev: fills.append(ev) if isinstance(ev, EntryFilled) else None)
    try:
        await engine.start()
        with Tracer() as entry:
            await engine.tick(SYMBOL)
        if not fills:
            raise SystemExit("the first tick did not enter a trade: nothing to follow")
        trade = await journal.trades.open_for(SYMBOL)
        atr = trade.atr if trade is not None and trade.atr else Decimal(0)
        sim.set_price(SYMBOL, fills[0].price * Decimal("1.0011") + atr * Decimal("0.4"))  # past break-even
        with Tracer() as manage:
            await engine.tick(SYMBOL)
    finally:
        await client.aclose()
        journal.close()
        sim.close()
        db.dispose()
    return entry.follow, manage.follow


def main(argv: list[str]) -> int:
    entry, manage = asyncio.run(follow_ticks())
    print(entry.line("entry tick"))
    print(manage.line("stop tick"))
    if "-v" in argv:
        for name, f in (("entry tick", entry), ("stop tick", manage)):
            print(f"{name}: calls back up, by (caller → callee file):")
            for (a, b), n in f.back_up_pairs.most_common(15):
                print(f"  {n:>4}  {a} → {b}")
    return 0
