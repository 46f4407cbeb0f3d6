"""The one PTB Application: exchange selection (paper simulator or Bybit), build, Deps in post_init/post_shutdown."""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22: timedelta retry_after, no deprecation warning

from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

import handlers
from handlers import jobs, journal_alarm
from handlers.alerts import AlertSink
from handlers.deps import (
    DEPS_KEY,
    SETUP_KEY,
    Deps,
    PollTracker,
    Setup,
)
from handlers.errors import polling_error_callback
from handlers.menus import set_menus
from handlers.outgoing import FittingRateLimiter
from proving.sim import Simulator
from storage.db import init_db, make_engine
from storage.journal import Journal
from storage.lock import LOCK_NAME, new_owner, take_lock
from storage.trouble import DOWN, reason
from tradebot.bybit.client import BybitClient
from tradebot.chat.service import BotService, env_label
from tradebot.errors import ExchangeError
from tradebot.events import Lifecycle
from tradebot.settings.config import Config
from tradebot.tick.engine import TradingEngine
from tradebot.tick.streams import start_streams
from tradebot.timeutil import utcnow

log = logging.getLogger("wiring.app")
App = Application[Any, Any, Any, Any, Any, Any]
PAPER_URL = "http://paper.sim"


class InstanceLocked(RuntimeError):
    """Another live process holds the journal's instance lock."""


def make_exchange(cfg: Config, *, candles: dict[str, Any] | None = None, warmup: int = 0
                  ) -> tuple[BybitClient, Simulator | None]:
    """paper → in-process Simulator (random walk, or replayed candles); otherwise Bybit mainnet/testnet/demo/URL."""
    key = cfg.env.BYBIT_API_KEY.get_secret_value() if cfg.env.BYBIT_API_KEY else "paper-key"
    secret = cfg.env.BYBIT_API_SECRET.get_secret_value() if cfg.env.BYBIT_API_SECRET else "paper-secret"
    if cfg.exchange_env == "paper":
        sim = Simulator(symbols=cfg.bot.symbols, candles=candles, warmup=warmup, rate_limits=False,
                        api_key=key, api_secret=secret, balance=Decimal("10000"))
        return BybitClient(PAPER_URL, key, secret, transport=sim.transport()), sim
    return BybitClient(cfg.exchange_env, key, secret), None


def build_application(cfg: Config, builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] | None = None,
                      **setup: Any) -> App:
    """Application with handlers registered; Deps are built in post_init from ``Setup(cfg, **setup)``."""
    owner = setup.pop("owner", None) or new_owner()
    info = Setup(cfg, owner, **setup)
    if builder is None:
        token = cfg.env.TELEGRAM_BOT_TOKEN.get_secret_value() if cfg.env.TELEGRAM_BOT_TOKEN else ""
        info.poll = PollTracker(HTTPXRequest(connection_pool_size=1, read_timeout=40))
        builder = ApplicationBuilder().token(token).get_updates_request(info.poll)
        if (api := cfg.env.TELEGRAM_API_URL) is not None:  # a self-hosted Bot API server
            builder = builder.base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
    app = builder.rate_limiter(FittingRateLimiter()).post_init(post_init).post_shutdown(post_shutdown).build()
    app.bot_data[SETUP_KEY] = info
    handlers.register(app)
    return app


async def post_init(app: App) -> None:
    info: Setup = app.bot_data[SETUP_KEY]
    cfg = info.cfg
    own_db = info.journal is None and info.db is None
    db = info.journal.db if info.journal is not None else info.db or make_engine(cfg.env.DATABASE_URL)
    journal = info.journal or Journal(db)
    await journal.worker.call(lambda: init_db(db))
    if (refusal := await journal.worker.call(lambda: take_lock(db, info.owner))) is not None:
        raise InstanceLocked(refusal)
    client, sim = info.client, info.sim
    streams = info.streams if info.streams is not None else client is None
    if client is None:
        client, sim = make_exchange(cfg)
        if sim is not None and not cfg.demo:
            sim.start_replay(speed=1.0)  # paper: the random walk moves in real time
    clock = info.clock or utcnow
    engine = TradingEngine(cfg, client, journal, clock=clock)
    service = BotService(cfg, engine, client, journal, clock)
    deps = Deps(cfg=cfg, engine=engine, service=service, client=client, journal=journal,
                sim=sim, clock=clock, owner=info.owner,
                poll=info.poll, managed_loop=info.managed_loop, own_journal=info.journal is None, own_db=own_db)
    app.bot_data[DEPS_KEY] = deps
    journal_alarm.install(app, deps)  # a journal that cannot be written is told to the owner directly
    engine.bus.subscribe(AlertSink(deps))
    try:
        await service.watch.restore()  # the watch list /symbols left, before anything reads the symbols
        await engine.start()
    except ExchangeError as exc:  # the first tick retries start(); tell the user now
        log.error("exchange not ready at start: %s", exc)
    if streams and cfg.bot.streams:  # real time on top of the REST loop (see README "Streams")
        key = cfg.env.BYBIT_API_KEY.get_secret_value() if cfg.env.BYBIT_API_KEY else "paper-key"
        secret = cfg.env.BYBIT_API_SECRET.get_secret_value() if cfg.env.BYBIT_API_SECRET else "paper-secret"
        deps.streams = await start_streams(engine, cfg.exchange_env, key, secret, sim)
        service.streams = service.watch.streams = deps.streams
    await set_menus(app.bot, deps.access)  # owners see every command, viewers the read-only ones
    await engine.bus.emit(Lifecycle(f"Started on {env_label(cfg)}: {', '.join(cfg.bot.symbols)}, mode "
                                    f"{engine.settings.mode}{', PAUSED' if engine.settings.paused else ''}."))
    jobs.schedule(app, deps, info)


async def post_shutdown(app: App) -> None:
    deps: Deps | None = app.bot_data.get(DEPS_KEY)
    if deps is None:
        return
    journal_alarm.uninstall(app, deps)
    if deps.streams is not None:
        await deps.streams.stop()
    try:
        await deps.journal.ops.release_lock(LOCK_NAME, deps.owner)
    except DOWN as exc:  # the journal cannot be written: the lock goes stale on its own; the rest still closes
        log.warning("could not release the instance lock: %s", reason(exc))
    await deps.client.aclose()
    if deps.sim is not None:
        deps.sim.close()
    if deps.own_journal:
        deps.journal.close()
    if deps.own_db:
        deps.journal.db.dispose()


async def startup(app: App, *, poll_timeout: float = 1.0) -> None:
    """Manual lifecycle (demo, tests): initialize → post_init → start → polling (if there is an updater)."""
    await app.initialize()
    await post_init(app)
    await app.start()
    if app.updater is not None:
        await app.updater.start_polling(timeout=int(poll_timeout), poll_interval=0,
                                        error_callback=polling_error_callback(app))


def stop_heavy(app: App) -> None:
    """Cancel the queued and running /backtest, /optimize, /chart (their worker is terminated) before the
    Application stops: it would otherwise wait for each of them to finish."""
    deps: Deps | None = app.bot_data.get(DEPS_KEY)
    if deps is not None:
        deps.service.heavy.close()


async def shutdown(app: App) -> None:
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    stop_heavy(app)
    if app.running:
        await app.stop()
    await app.shutdown()
    await post_shutdown(app)
