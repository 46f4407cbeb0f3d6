"""--demo: the whole bot offline — simulator replaying data/sample, temp SQLite journal, the chat in this terminal."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from handlers.buttons import decode, encode
from handlers.deps import DEPS_KEY, Deps
from handlers.jobs import no_overlap
from handlers.render.formatting import SIDE_WORD
from proving.sim import Simulator
from proving.telegram.hub import OfflineTelegram, build_offline_application
from proving.terminal import TerminalChat, stdin_lines
from storage.db import make_engine
from tradebot.events import ConfirmationNeeded, EntryFailed, EntryFilled, Event, PositionClosed
from tradebot.intents import Button, ButtonAction
from tradebot.logs import FORMAT, RedactingFilter
from tradebot.settings.config import Config
from tradebot.states import ConfirmationStatus as CS
from tradebot.strategy import StrategyParams
from tradebot.text import num, usdt
from wiring.app import build_application, make_exchange, shutdown, startup

DEMO_CHAT = 1001
SYMBOL = "BTCUSDT"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "BTCUSDT_5m.csv"
WARMUP = 3870  # the sample has 4,000 5m candles: replay the last 130, the rest is indicator history
REPLAYED = 4000 - WARMUP
TERMINAL_SPEED = 1.0  # candles per second at a terminal: time to try /positions and /close on an open trade
PIPED_SPEED = 10.0  # nobody watches a piped run in real time
PIPED_SECONDS = 60.0
MIN_SPEED, MAX_SPEED = 0.1, 50.0
THRESHOLD = 4.0
# The buttons of a trade decision: a card that shows one of them holds the replay at a terminal (market time must
# not move while the user decides). Anything else (the optimiser's Apply…, its confirmation) never holds it.
TRADE_DECISIONS = frozenset({ButtonAction.APPROVE, ButtonAction.REJECT, ButtonAction.CLOSE, ButtonAction.STOP_ALL,
                             ButtonAction.ADOPT, ButtonAction.CLOSE_UNKNOWN, ButtonAction.IGNORE_UNKNOWN})


def demo_config(cfg: Config, db_path: Path) -> tuple[Config, list[str]]:
    """The user's config with the demo's overrides (listed in the header so nothing is hidden)."""
    strategy = cfg.strategy.model_dump()
    strategy.update(threshold=min(THRESHOLD, cfg.strategy.threshold), higher_timeframes=[],
                    orderbook={**strategy["orderbook"], "enabled": False})
    bot = cfg.bot.model_copy(update={"symbols": [SYMBOL], "interval": "15", "candles": 300, "mode": "confirm",
                                     "confirmation_expiry_seconds": 1800, "loop_seconds": 60.0, "digest_utc": None,
                                     "unknown_position_wait_seconds": 0})
    file = cfg.file.model_copy(update={"bot": bot, "strategy": StrategyParams.model_validate(strategy)})
    env = cfg.env.model_copy(update={"TELEGRAM_ALLOWED_CHAT_IDS": [DEMO_CHAT], "BYBIT_ENV": "paper",
                                     "DATABASE_URL": f"sqlite:///{db_path}", "TELEGRAM_BOT_TOKEN": None})
    notes = [f"strategy threshold {file.strategy.threshold:g} (config: {cfg.strategy.threshold:g}), "
             "no higher-timeframe or order-book votes", "mode confirm, cards expire after 30 market minutes",
             f"{SYMBOL} 15m only (the default interval, from the 5m sample)"]
    return dataclasses.replace(cfg, env=env, file=file, demo=True), notes


class Replay:
    """Steps the simulator and ticks each symbol; holds while ``holding()`` says so; says once when it ends."""

    def __init__(self, deps: Deps, sim: Simulator, holding: Callable[[], Awaitable[bool]], total: int,
                 say: Callable[[str], None] | None = None) -> None:
        self.deps, self.sim, self.holding, self.total = deps, sim, holding, total
        self.say = say or (lambda _text: None)
        self.done = asyncio.Event()
        self.steps = 0
        self.end_note = ""

    def note(self) -> str:
        """The replay's state for /status."""
        at = f"market time {market_clock(self.sim)():%Y-%m-%d %H:%M} UTC"
        if self.done.is_set():
            return f"Replay finished: all {self.steps} candles played ({at}); no new candles will come."
        return f"Replay: candle {self.steps} of {self.total} ({at})."

    async def __call__(self, context: Any) -> None:
        if self.done.is_set() or await self.holding():
            return
        if self.steps and not await asyncio.to_thread(self.sim.step, 1):
            self.done.set()
            self.say(f"=== demo: replay finished — all {self.steps} candles played; no new candles will come. "
                     f"{self.end_note}".rstrip())
            return
        self.steps += 1
        for symbol in self.deps.cfg.bot.symbols:
            await self.deps.engine.tick(symbol)


def market_clock(sim: Simulator) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(sim.market_time() / 1000, tz=UTC)


async def pending_confirmations(deps: Deps) -> list[str]:
    return [c.id for c in await deps.journal.cards.pending()]


def decision_cards(chat: TerminalChat) -> list[int]:
    """The open cards in the chat that ask for a trade decision (their message ids)."""
    out = []
    for m in chat.open_cards():
        actions = {b.action for row in m.buttons for _, data in row if (b := decode(data)) is not None}
        if actions & TRADE_DECISIONS:
            out.append(m.message_id)
    return out


@dataclasses.dataclass
class PositionWait:
    """At a terminal, a position that just opened holds the replay until the user presses Enter on an empty line
    (or closes it): at one candle per second a position lasts seconds, too short to try /positions and /close."""

    chat: TerminalChat
    blanks: int | None = None  # the chat's count of empty lines when the position opened; None: nothing open
    told: bool = False

    def opened(self) -> None:
        self.blanks, self.told = self.chat.blanks, False

    def closed(self) -> None:
        self.blanks = None

    def holding(self) -> bool:
        if self.blanks is None or self.chat.blanks != self.blanks:
            return False
        if not self.told:
            self.told = True
            self.chat.write("=== demo: a position is open, so the replay waits: try /positions and /close BTCUSDT. "
                            "Press Enter on an empty line to let the market run.")
        return True


@dataclasses.dataclass
class DemoRun:
    """What one demo run is doing: its files, speed, limits and the events the pieces wait on."""

    workdir: Path
    interactive: bool
    speed: float  # candles per second
    seconds: float  # wall-clock limit (inf: none)
    stop: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)  # Ctrl-C / SIGTERM
    settled: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)  # the first auto card filled or failed
    auto: set[str] = dataclasses.field(default_factory=set)

    @property
    def log_path(self) -> Path:
        return self.workdir / "demo.log"

    @property
    def charts(self) -> Path:
        return self.workdir / "charts"


def _header(run: DemoRun, notes: list[str]) -> list[str]:
    pace = f"{run.speed:g} candle(s) per second (--speed)"
    limit = f"; stops after {run.seconds:g} s (--demo-seconds)" if run.seconds != float("inf") else ""
    lines = [f"=== DEMO (offline): simulator replaying {SAMPLE.name} — {REPLAYED} candles at {pace} after {WARMUP} "
             f"of history; paper balance 10,000 USDT{limit}",
             f"=== files in {run.workdir}: journal demo.db · log demo.log (warnings go there, not into this chat)"
             " · charts/",
             f"=== demo overrides: {'; '.join(notes)}"]
    if run.interactive:
        lines.append("=== type commands (/help); answer a card with its button number or label. The replay pauses "
                     "while an entry card or a /close question is open, and after a fill until you press Enter. "
                     "Ctrl-D or Ctrl-C quits.")
    else:
        lines.append("=== stdin is not a terminal: the first card is auto-approved (demo only); the replay then "
                     "waits while the piped commands run, so they see the open position")
    return lines


async def _demo(cfg: Config, run: DemoRun) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, _interrupt, run)
    deadline = time.monotonic() + run.seconds
    cfg, notes = demo_config(cfg, run.workdir / "demo.db")
    db = make_engine(cfg.env.DATABASE_URL)
    client, sim = make_exchange(cfg, candles={SYMBOL: SAMPLE}, warmup=WARMUP)
    assert sim is not None
    hub = OfflineTelegram(username="demo_bot")
    app = build_application(cfg, build_offline_application(hub), db=db, sim=sim, client=client,
                            clock=market_clock(sim), managed_loop=True, schedule_ticks=False,
                            drain_seconds=0.1, expiry_seconds=0.3, streams=True)
    # a terminal already shows what was typed; a pipe does not, so piped lines are echoed as "you ▸ ..."
    chat = TerminalChat(hub, DEMO_CHAT, DEMO_CHAT, out_dir=run.charts, settle=0.3, echo=not run.interactive,
                        echo_taps=True)
    for line in _header(run, notes):
        chat.write(line)
    await startup(app)
    deps: Deps = app.bot_data[DEPS_KEY]

    wait = PositionWait(chat)

    async def on_event(event: Event) -> None:
        if isinstance(event, EntryFilled | EntryFailed):
            run.settled.set()
        if isinstance(event, EntryFilled) and run.interactive:
            wait.opened()
        elif isinstance(event, PositionClosed):
            wait.closed()
        if run.interactive or not isinstance(event, ConfirmationNeeded):
            return
        if not run.auto or event.replaces in run.auto:
            run.auto.add(event.confirmation_id)
            app.create_task(_auto_approve(hub, event.confirmation_id))

    async def holding() -> bool:
        if run.interactive:  # a person decides: wait while a trade decision (entry, close, stop-all...) is open
            return bool(await pending_confirmations(deps) or decision_cards(chat)) or wait.holding()
        # piped: from the first card until the piped commands are done, so /positions sees the position; the
        # market moves while its approved entry rests as a maker limit (the limit fills when the price comes to it)
        if not run.auto or chat.eof.is_set():
            return False
        return run.settled.is_set() or not await deps.journal.cards.entering(SYMBOL)

    deps.engine.bus.subscribe(on_event)
    replay = Replay(deps, sim, holding, REPLAYED, say=chat.write)
    if run.interactive:
        replay.end_note = "The bot still answers commands (/status, /pnl, /trades, /chart BTC). Ctrl-D or Ctrl-C quits."
    deps.service.market_note = replay.note
    assert app.job_queue is not None
    app.job_queue.run_repeating(replay, interval=1 / run.speed, first=0.2, name="demo-replay",
                                job_kwargs=no_overlap(1 / run.speed))
    feeder = asyncio.create_task(_feed(chat, run, deadline))
    try:
        await _wait(replay, feeder, chat, run, deadline)
        while True:  # quiet, and no /chart or /backtest left in the heavy worker (slow to start on a loaded machine)
            await hub.wait_idle(quiet=0.5, timeout=max(1.0, min(5.0, deadline - time.monotonic())))
            if not deps.service.heavy.size or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
        summary = await _summary(deps, replay, run)
        chat.close()
        await shutdown(app)
        db.dispose()
    print(summary, flush=True)
    return 0


def _interrupt(run: DemoRun) -> None:
    if not run.stop.is_set():
        print("\n=== demo: interrupted — stopping (summary below)", flush=True)
    run.stop.set()


async def _auto_approve(hub: OfflineTelegram, conf_id: str) -> None:
    data = encode(Button(ButtonAction.APPROVE, conf_id))
    card = await hub.wait_for(lambda m: any(d == data for row in m.buttons for _, d in row), 10)
    print("🤖 demo: auto-approving this card (stdin is not a terminal)", flush=True)
    hub.push_callback(DEMO_CHAT, data, card.message_id, user_id=DEMO_CHAT)


async def _feed(chat: TerminalChat, run: DemoRun, deadline: float) -> None:
    if not run.interactive:  # piped: let the first card be approved so the commands have a position to show
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.settled.wait(), max(0.0, (deadline - time.monotonic()) * 0.5))
        await chat.hub.wait_idle(quiet=0.5, timeout=3.0)
    await chat.feed(stdin_lines())


async def _wait(replay: Replay, feeder: asyncio.Task[None], chat: TerminalChat, run: DemoRun,
                deadline: float) -> None:
    while time.monotonic() < deadline:
        if run.stop.is_set():
            return
        if chat.eof.is_set() and (run.interactive or replay.done.is_set()):
            return
        if feeder.done() and (exc := feeder.exception()) is not None:
            raise exc
        await asyncio.sleep(0.1)
    print(f"=== demo: time limit reached after {replay.steps} candles", flush=True)


async def _summary(deps: Deps, replay: Replay, run: DemoRun) -> str:
    closed = await deps.journal.trades.closed()
    confs = await deps.journal.cards.with_status(tuple(CS))
    pnl = sum((t.pnl or Decimal(0) for t in closed), Decimal(0))
    wins = sum(1 for t in closed if (t.pnl or 0) > 0)
    positions = await deps.client.positions()
    wallet = await deps.client.wallet()
    by_status: dict[str, int] = {}
    for c in confs:
        by_status[c.status] = by_status.get(c.status, 0) + 1
    lines = ["", "=== DEMO SUMMARY ===",
             f"Candles replayed: {replay.steps} of {replay.total}"
             f"{' (replay finished)' if replay.done.is_set() else ''}",
             f"Confirmation cards: {len(confs)} ({', '.join(f'{k} {v}' for k, v in sorted(by_status.items())) or '-'})",
             f"Closed trades: {len(closed)} ({wins} won) · realised PnL {usdt(pnl, True)} USDT",
             f"Open positions: {len(positions)}" + "".join(
                 f"\n  {p.symbol} {SIDE_WORD.get(p.side or '', p.side or '')} {num(p.size)} @ {num(p.avg_price)} uPnL {usdt(p.unrealised_pnl, True)}"
                 for p in positions),
             f"Equity: {usdt(wallet.total_equity)} USDT (started with 10,000.00)",
             f"Files kept in {run.workdir} (demo.log, demo.db, charts/); delete the folder when done."]
    return "\n".join(lines)


def _log_to_file(path: Path) -> None:
    """Send every log record (and Python warnings) to ``path`` instead of the terminal, keeping the redaction."""
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    for old in list(root.handlers):
        for f in old.filters:
            handler.addFilter(f)
        root.removeHandler(old)
        old.close()
    if not handler.filters:
        handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "job skipped": the replay's own pacing


def run_demo(cfg: Config, *, seconds: float | None = None, speed: float | None = None) -> int:
    """Blocking entry used by bot.py --demo. ``speed``: candles per second; ``seconds``: a wall-clock limit."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    interactive = sys.stdin.isatty()
    if speed is not None and not MIN_SPEED <= speed <= MAX_SPEED:
        print(f"--speed {speed:g} is out of range: candles per second, from {MIN_SPEED:g} to {MAX_SPEED:g}.",
              file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="tradebot-demo-"))
    run = DemoRun(workdir, interactive, speed or (TERMINAL_SPEED if interactive else PIPED_SPEED),
                  seconds if seconds is not None else (float("inf") if interactive else PIPED_SECONDS))
    _log_to_file(run.log_path)
    try:
        return asyncio.run(_demo(cfg, run))
    except KeyboardInterrupt:  # Ctrl-C before the loop's own handler was installed
        print("\n=== demo: interrupted", flush=True)
        return 0
