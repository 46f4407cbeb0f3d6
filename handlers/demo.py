"""--demo: the whole bot offline — simulator replaying data/sample, temp SQLite journal, the chat in this terminal."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlmodel import select

from handlers.app import build_application, make_exchange, shutdown, startup
from handlers.deps import DEPS_KEY, Deps
from handlers.offline import OfflineTelegram, build_offline_application
from handlers.terminal import TerminalChat, stdin_lines
from storage.db import make_engine, session_scope
from storage.models import Confirmation, TradeRecord
from tradebot.config import Config
from tradebot.events import ConfirmationNeeded, EntryFilled, Event
from tradebot.formatting import num, usdt
from tradebot.strategy import StrategyParams

DEMO_CHAT = 1001
SYMBOL = "BTCUSDT"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "BTCUSDT_5m.csv"
WARMUP = 3870  # the sample has 4,000 5m candles: replay the last 130, the rest is indicator history
STEP_SECONDS = 0.15
THRESHOLD = 4.0


def demo_config(cfg: Config, db_path: Path) -> tuple[Config, list[str]]:
    """The user's config with the demo's overrides (listed in the header so nothing is hidden)."""
    strategy = cfg.strategy.model_dump()
    strategy.update(threshold=min(THRESHOLD, cfg.strategy.threshold), higher_timeframes=[],
                    orderbook={**strategy["orderbook"], "enabled": False})
    bot = cfg.bot.model_copy(update={"symbols": [SYMBOL], "interval": "5", "candles": 300, "mode": "confirm",
                                     "confirmation_expiry_seconds": 1800, "loop_seconds": 60.0, "digest_utc": None,
                                     "unknown_position_wait_seconds": 0})
    file = cfg.file.model_copy(update={"bot": bot, "strategy": StrategyParams.model_validate(strategy)})
    env = cfg.env.model_copy(update={"TELEGRAM_ALLOWED_CHAT_IDS": [DEMO_CHAT], "BYBIT_ENV": "paper",
                                     "DATABASE_URL": f"sqlite:///{db_path}", "TELEGRAM_BOT_TOKEN": None})
    notes = [f"strategy threshold {file.strategy.threshold:g} (config: {cfg.strategy.threshold:g}), "
             "no higher-timeframe or order-book votes", "mode confirm, cards expire after 30 market minutes",
             f"{SYMBOL} 5m only"]
    return dataclasses.replace(cfg, env=env, file=file, demo=True), notes


class Replay:
    """Steps the simulator and ticks each symbol; holds while a card it waits for is undecided."""

    def __init__(self, deps: Deps, waits_for: Callable[[str], bool]) -> None:
        self.deps, self.waits_for = deps, waits_for
        self.done = asyncio.Event()
        self.steps = 0

    def _holding(self) -> bool:
        with session_scope(self.deps.db) as s:
            pending = s.exec(select(Confirmation.id).where(Confirmation.status == "pending")).all()
        return any(self.waits_for(cid) for cid in pending)

    async def __call__(self, context: Any) -> None:
        if self.done.is_set() or self._holding():
            return
        sim = self.deps.sim
        assert sim is not None
        if self.steps and not await asyncio.to_thread(sim.step, 1):
            self.done.set()
            return
        self.steps += 1
        for symbol in self.deps.cfg.bot.symbols:
            await self.deps.engine.tick(symbol)


def market_clock(sim: Any) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(sim.market_time() / 1000, tz=UTC)


async def _demo(cfg: Config, seconds: float, workdir: Path, interactive: bool) -> int:
    deadline = time.monotonic() + seconds
    cfg, notes = demo_config(cfg, workdir / "demo.db")
    db = make_engine(cfg.env.DATABASE_URL)
    client, sim = make_exchange(cfg, candles={SYMBOL: SAMPLE}, warmup=WARMUP)
    assert sim is not None
    hub = OfflineTelegram(username="demo_bot")
    app = build_application(cfg, build_offline_application(hub), db=db, sim=sim, client=client,
                            clock=market_clock(sim), managed_loop=True, schedule_ticks=False,
                            drain_seconds=0.1, expiry_seconds=0.3, streams=True)
    media = Path.cwd() / "demo-charts" if interactive else None  # piped runs only print the picture's size
    chat = TerminalChat(hub, DEMO_CHAT, DEMO_CHAT, out_dir=media, settle=0.3, echo=True)
    print(f"=== DEMO (offline): simulator replaying {SAMPLE.name} — {4000 - WARMUP} candles at {STEP_SECONDS}s "
          f"each after {WARMUP} of history; paper balance 10,000 USDT; journal {workdir / 'demo.db'}")
    print(f"=== demo overrides: {'; '.join(notes)}")
    print("=== " + ("type commands (/help), answer cards with 1/2 or the button label; Ctrl-D quits" if interactive
                    else "stdin is not a terminal: the first card is auto-approved (demo only); piped commands "
                    "run after the first fill"))
    auto: set[str] = set()
    filled = asyncio.Event()
    await startup(app)
    deps: Deps = app.bot_data[DEPS_KEY]

    async def on_event(event: Event) -> None:
        if isinstance(event, EntryFilled):
            filled.set()
        if interactive or not isinstance(event, ConfirmationNeeded):
            return
        if not auto or event.replaces in auto:
            auto.add(event.confirmation_id)
            app.create_task(_auto_approve(hub, event.confirmation_id))

    deps.engine.bus.subscribe(on_event)
    replay = Replay(deps, (lambda cid: True) if interactive else auto.__contains__)
    assert app.job_queue is not None
    app.job_queue.run_repeating(replay, interval=STEP_SECONDS, first=0.2, name="demo-replay",
                                job_kwargs={"max_instances": 1, "coalesce": True})
    feeder = asyncio.create_task(_feed(chat, filled, interactive, deadline))
    try:
        await _wait(replay, feeder, chat, interactive, deadline)
        await hub.wait_idle(quiet=0.5, timeout=max(1.0, min(5.0, deadline - time.monotonic())))
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
        summary = await _summary(deps, replay)
        chat.close()
        await shutdown(app)
        db.dispose()
    print(summary)
    return 0


async def _auto_approve(hub: OfflineTelegram, conf_id: str) -> None:
    card = await hub.wait_for(lambda m: any(d == f"ap:{conf_id}" for row in m.buttons for _, d in row), 10)
    print("🤖 demo: auto-approving this card (stdin is not a terminal)", flush=True)
    hub.push_callback(DEMO_CHAT, f"ap:{conf_id}", card.message_id, user_id=DEMO_CHAT)


async def _feed(chat: TerminalChat, filled: asyncio.Event, interactive: bool, deadline: float) -> None:
    if not interactive:  # piped: let something happen first so the commands have something to show
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(filled.wait(), max(0.0, (deadline - time.monotonic()) * 0.5))
        await asyncio.sleep(1.0)
    await chat.feed(stdin_lines())


async def _wait(replay: Replay, feeder: asyncio.Task[None], chat: TerminalChat, interactive: bool,
                deadline: float) -> None:
    while time.monotonic() < deadline:
        if chat.eof.is_set() and (interactive or replay.done.is_set()):
            return
        if feeder.done() and feeder.exception() is not None:
            raise feeder.exception()  # type: ignore[misc]
        await asyncio.sleep(0.1)
    print(f"=== demo: time limit reached after {replay.steps} candles", flush=True)


async def _summary(deps: Deps, replay: Replay) -> str:
    with session_scope(deps.db) as s:
        trades = list(s.exec(select(TradeRecord)).all())
        confs = list(s.exec(select(Confirmation)).all())
    closed = [t for t in trades if t.status == "closed"]
    pnl = sum((t.pnl or Decimal(0) for t in closed), Decimal(0))
    wins = sum(1 for t in closed if (t.pnl or 0) > 0)
    positions = await deps.client.positions()
    wallet = await deps.client.wallet()
    by_status: dict[str, int] = {}
    for c in confs:
        by_status[c.status] = by_status.get(c.status, 0) + 1
    lines = ["", "=== DEMO SUMMARY ===",
             f"Candles replayed: {replay.steps}{' (replay finished)' if replay.done.is_set() else ''}",
             f"Confirmation cards: {len(confs)} ({', '.join(f'{k} {v}' for k, v in sorted(by_status.items())) or '-'})",
             f"Closed trades: {len(closed)} ({wins} won) · realised PnL {usdt(pnl, True)} USDT",
             f"Open positions: {len(positions)}" + "".join(
                 f"\n  {p.symbol} {p.side} {num(p.size)} @ {num(p.avg_price)} uPnL {usdt(p.unrealised_pnl, True)}"
                 for p in positions),
             f"Equity: {usdt(wallet.total_equity)} USDT (started with 10,000.00)"]
    return "\n".join(lines)


def run_demo(cfg: Config, *, seconds: float) -> int:
    """Blocking entry used by handlers.app.run(demo=True)."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "job skipped" notes would clutter the chat
    interactive = sys.stdin.isatty()
    with tempfile.TemporaryDirectory(prefix="tradebot-demo-") as tmp:
        return asyncio.run(_demo(cfg, seconds, Path(tmp), interactive))
