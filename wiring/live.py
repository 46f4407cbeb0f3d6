"""The live run: connect to Telegram (retrying while the exchange side is protected), poll or serve a webhook,
stop cleanly, and release the instance lock on every exit path."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import signal
import sys
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import OperationalError
from telegram.error import InvalidToken, RetryAfter, TelegramError

from handlers import liveness
from handlers.alerts import AlertSink
from handlers.deps import (
    DEPS_KEY,
    EXIT_BAD_JOURNAL,
    EXIT_OTHER_INSTANCE,
    SETUP_KEY,
    Deps,
    Setup,
    wall_now,
)
from handlers.errors import polling_error_callback
from proving.sim import Simulator
from storage.db import StorageError, init_db, make_engine
from storage.journal import Journal
from storage.lock import LOCK_NAME, new_owner, take_lock
from tradebot.bybit.client import BybitClient
from tradebot.chat.service import BotService, env_label
from tradebot.logs import redact
from tradebot.settings.config import Config
from tradebot.settings.dburl import shown_url
from tradebot.tick.engine import TradingEngine
from tradebot.timeutil import utcnow
from wiring.app import InstanceLocked, build_application, make_exchange, post_init, post_shutdown, stop_heavy

log = logging.getLogger("wiring.live")
EXIT_OK, EXIT_CRASH, EXIT_CONFIG = 0, 1, 2  # and EXIT_OTHER_INSTANCE = 3
UPDATES = ["message", "edited_message", "callback_query", "channel_post"]
BACKOFF_FIRST, BACKOFF_MAX = 2.0, 60.0
HELD = "new entries paused until Telegram is reachable (open positions are still managed)"
LOCK_BEAT_SECONDS = 20.0
STOP_WAIT_SECONDS = 60.0


def say(text: str) -> None:
    """One plain line on stderr (not a log record), secrets redacted."""
    print(redact(text), file=sys.stderr)


def rejected_line(cfg: Config) -> str:
    api = cfg.env.TELEGRAM_API_URL or "https://api.telegram.org"
    return (f"TELEGRAM_BOT_TOKEN was rejected by the Telegram Bot API at {api}: check the token @BotFather gave "
            "you (revoked, or mistyped in .env?)"
            + (" and that TELEGRAM_API_URL is the Bot API server this token belongs to."
               if cfg.env.TELEGRAM_API_URL else "."))


class Guard:
    """While Telegram is unreachable at start: the trading engine ticks every ``loop_seconds`` with new entries
    held, so open positions are synced, their stops moved (break-even, trailing) and closes journaled; alerts wait
    in the outbox. The exchange client (and paper simulator) are handed on to the Application afterwards."""

    def __init__(self, cfg: Config, journal: Journal, owner: str,
                 exchange: tuple[BybitClient, Simulator | None] | None = None) -> None:
        self.cfg, self.journal, self.owner = cfg, journal, owner
        self.client: BybitClient
        self.sim: Simulator | None
        if exchange is None:
            self.client, self.sim = make_exchange(cfg)
            if self.sim is not None:
                self.sim.start_replay(speed=1.0)  # paper: the random walk moves in real time, as in post_init
        else:
            self.client, self.sim = exchange
        self.engine = TradingEngine(cfg, self.client, journal, clock=utcnow)
        self.engine.gate.held = HELD
        deps = Deps(cfg=cfg, engine=self.engine, service=BotService(cfg, self.engine, self.client, journal, utcnow),
                    client=self.client, journal=journal, sim=self.sim, clock=utcnow,
                    owner=owner, poll=None, managed_loop=True)
        self.engine.bus.subscribe(AlertSink(deps))
        self.lost_lock = False
        self._halt = asyncio.Event()
        self._next_beat = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telegram-outage-guard")

    async def run_once(self) -> bool:
        """One round: tick every symbol, write the tick heartbeat, refresh the lock; False when the lock is lost."""
        for symbol in self.cfg.bot.symbols:
            await self.engine.tick(symbol)  # never raises
        await liveness.record_tick(self.journal, self.engine)
        loop = asyncio.get_running_loop()
        if loop.time() >= self._next_beat:
            if not await self.journal.ops.lock_heartbeat(LOCK_NAME, self.owner, wall_now()):
                self.lost_lock = True
                return False
            self._next_beat = loop.time() + LOCK_BEAT_SECONDS
        return True

    async def _run(self) -> None:
        while not self._halt.is_set():
            if not await self.run_once():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), self.cfg.bot.loop_seconds)

    async def stop(self) -> None:
        """Let a tick in flight finish (an exchange call is never cut in half), then end the loop."""
        self._halt.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_SECONDS)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def connect(app: Any, cfg: Config, journal: Journal, owner: str, stop: asyncio.Event) -> tuple[int | None, Guard | None]:
    """``app.initialize()`` (getMe) until it works: (None, guard) when connected, (exit code, guard) otherwise.
    A network failure (or any answer but a rejected token) is retried with backoff, one log line per attempt,
    while a Guard ticks the engine; a rejected token is exit 2."""
    guard: Guard | None = None
    delay, attempt = BACKOFF_FIRST, 0
    while True:
        attempt += 1
        try:
            await app.initialize()
            if attempt > 1:
                log.warning("Telegram is reachable again after %d attempts; starting the chat side", attempt)
            return None, guard
        except InvalidToken:
            say(rejected_line(cfg))
            return EXIT_CONFIG, guard
        except TelegramError as exc:  # DNS failure, connection refused, timeouts, 5xx, 429, a garbled answer
            if isinstance(exc, RetryAfter):
                ra: Any = exc.retry_after
                delay = max(delay, ra.total_seconds() if isinstance(ra, timedelta) else float(ra))
            if guard is None:
                guard = Guard(cfg, journal, owner)
                guard.start()
            log.warning("Telegram is unreachable (attempt %d: %s); retrying in %.0f s. Meanwhile the exchange "
                        "side runs: open positions keep their exchange TP/SL and are managed each tick; new "
                        "entries wait.", attempt, exc.message, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            log.warning("stopped while waiting for Telegram")
            return EXIT_OK, guard
        if guard is not None and guard.lost_lock:
            log.critical("the instance lock was taken over by another process; stopping")
            return EXIT_OTHER_INSTANCE, guard
        delay = min(BACKOFF_MAX, delay * 2)


async def start_updates(app: Any, cfg: Config) -> None:
    """Polling (default) or, with TELEGRAM_WEBHOOK_URL, the webhook server (python-telegram-bot's update handler,
    guarded: the secret and the size are checked before the body is read, handlers/webhook.py)."""
    env = cfg.env
    if env.TELEGRAM_WEBHOOK_URL:
        from handlers import webhook  # tornado: python-telegram-bot[webhooks], needed in webhook mode only

        assert env.TELEGRAM_WEBHOOK_SECRET is not None  # config validation requires it
        path = urlsplit(env.TELEGRAM_WEBHOOK_URL).path.strip("/")
        await webhook.serve(app, env.TELEGRAM_WEBHOOK_LISTEN, env.TELEGRAM_WEBHOOK_PORT, env.TELEGRAM_WEBHOOK_URL,
                            path, env.TELEGRAM_WEBHOOK_SECRET.get_secret_value(), UPDATES)
        log.info("webhook server listening on %s:%d/%s", env.TELEGRAM_WEBHOOK_LISTEN, env.TELEGRAM_WEBHOOK_PORT,
                 path)
        return
    await app.updater.start_polling(timeout=30, drop_pending_updates=False, allowed_updates=UPDATES,
                                    bootstrap_retries=-1, error_callback=polling_error_callback(app))


async def stop_app(app: Any) -> None:
    if liveness.webhook_running(app):
        from handlers import webhook

        await webhook.stop(app)
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    stop_heavy(app)
    if app.running:
        await app.stop()
    await app.shutdown()  # a no-op when initialize() never succeeded
    await post_shutdown(app)


async def serve(cfg: Config, *, builder: Any = None, stop: asyncio.Event | None = None) -> int:
    """The live bot until a signal, a request_stop (Telegram conflict, lock lost) or a fatal start problem;
    returns the exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    if cfg.env.TELEGRAM_WEBHOOK_URL and importlib.util.find_spec("tornado") is None:
        say("TELEGRAM_WEBHOOK_URL is set but the webhook server is not installed: run "
            "`.venv/bin/pip install -r requirements.txt` (python-telegram-bot[webhooks]), or unset it to poll.")
        return EXIT_CONFIG
    owner = new_owner()
    db = make_engine(cfg.env.DATABASE_URL)
    journal = Journal(db)
    guard: Guard | None = None
    handed: Guard | None = None  # a guard whose exchange client the Application took over
    app: Any = None
    locked = False
    try:
        try:
            await journal.worker.call(lambda: init_db(db))  # migrates (Alembic); refuses a newer release's journal
        except StorageError as exc:
            say(f"Refusing to start: {exc}")
            return EXIT_BAD_JOURNAL
        except OperationalError as exc:  # e.g. PostgreSQL not up yet: one line; a supervisor restarts us
            reason = str(exc.orig).strip().splitlines()[0]
            if db.dialect.name == "sqlite" and "locked" in reason:  # held past the wait: the other start has it
                say(f"Refusing to start: Another bot instance is running on this database, or another program "
                    f"holds it: the journal at {shown_url(cfg.env.DATABASE_URL)} (DATABASE_URL) stayed locked "
                    f"({reason}). Stop the other one first.")
                return EXIT_OTHER_INSTANCE
            say(f"Cannot open the journal at {shown_url(cfg.env.DATABASE_URL)} (DATABASE_URL): {reason}")
            return EXIT_CRASH
        if (refusal := await journal.worker.call(lambda: take_lock(db, owner))) is not None:
            say(f"Refusing to start: {refusal}")
            return EXIT_OTHER_INSTANCE
        locked = True
        app = build_application(cfg, builder, owner=owner, db=db, journal=journal, managed_loop=True)
        log.info("starting on %s (%s)", env_label(cfg),
                 "webhook" if cfg.env.TELEGRAM_WEBHOOK_URL else "polling")
        code, guard = await connect(app, cfg, journal, owner, stop)
        if code is not None:
            return code
        if guard is not None:  # hand the exchange over: the Application's engine takes over from here
            await guard.stop()
            setup: Setup = app.bot_data[SETUP_KEY]
            setup.client, setup.sim = guard.client, guard.sim
            handed, guard = guard, None
        try:
            await post_init(app)
        except InstanceLocked as exc:
            say(f"Refusing to start: {exc}")
            return EXIT_OTHER_INSTANCE
        deps: Deps = app.bot_data[DEPS_KEY]
        assert app.job_queue is not None
        app.job_queue.run_repeating(liveness.beat, interval=liveness.BEAT_SECONDS, first=1, name="liveness")
        await app.start()
        try:
            await start_updates(app, cfg)
        except OSError as exc:  # the webhook port is taken or the address is not ours
            say(f"The webhook server cannot listen on {cfg.env.TELEGRAM_WEBHOOK_LISTEN}:"
                f"{cfg.env.TELEGRAM_WEBHOOK_PORT} (TELEGRAM_WEBHOOK_LISTEN/TELEGRAM_WEBHOOK_PORT): {exc.strerror}")
            return EXIT_CONFIG
        except TelegramError as exc:  # setWebhook refused (network trouble is retried): the URL is not usable
            say(f"Telegram refused TELEGRAM_WEBHOOK_URL {cfg.env.TELEGRAM_WEBHOOK_URL}: {exc.message}")
            return EXIT_CONFIG
        done = asyncio.ensure_future(deps.stopping.wait())
        halt = asyncio.ensure_future(stop.wait())
        await asyncio.wait({done, halt}, return_when=asyncio.FIRST_COMPLETED)
        for f in (done, halt):
            f.cancel()
        log.info("stopping (%s)", "signal" if stop.is_set() else f"exit code {deps.exit_code}")
        if deps.exit_code == EXIT_OTHER_INSTANCE:
            say("Stopped: another instance is using this bot token or database.")
        return deps.exit_code
    finally:
        if handed is not None and (app is None or DEPS_KEY not in app.bot_data):
            guard = handed  # post_init never built Deps: post_shutdown will not close the client, so we do
        if guard is not None:
            await guard.stop()
            await guard.client.aclose()
            if guard.sim is not None:
                guard.sim.close()
        if app is not None:
            await stop_app(app)
        if locked:  # every exit path: the lock is free for the next start
            try:
                await journal.ops.release_lock(LOCK_NAME, owner)
            except OperationalError as exc:  # the database went away: the lock goes stale on its own
                log.warning("could not release the instance lock: %s", str(exc.orig).strip().splitlines()[0])
        journal.close()
        db.dispose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
