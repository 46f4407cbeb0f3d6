"""SavedSettings: what the bot keeps in the journal across restarts (mode, risk, pause, applied settings, marks)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from storage.journal import Journal
from storage.models import ChatSettings
from tradebot.config import Config
from tradebot.overrides import apply_changes
from tradebot.risk import RiskParams
from tradebot.strategy import StrategyParams

log = logging.getLogger("tradebot.engine")
MODES = ("auto", "confirm")


class SavedSettings:
    """The live settings (config + what the chat changed) and the few marks the engine keeps between ticks.

    The settings row is read from the journal once (``load``, at start) and kept here; every change is written
    through before it takes effect, so reads never touch the database."""

    def __init__(self, cfg: Config, journal: Journal, clock: Callable[[], datetime]) -> None:
        self.cfg, self.journal, self.clock = cfg, journal, clock
        self.row = ChatSettings()  # the defaults until load(): nothing changed from the chat
        self.loaded = False
        self._cache: tuple[str, tuple[RiskParams, StrategyParams]] | None = None

    async def load(self) -> None:
        """Read the settings row (at start, and before anything decides or saves with it)."""
        self.row = await self.journal.state.settings()
        self.loaded = True

    async def ensure_loaded(self) -> None:
        if not self.loaded:
            await self.load()

    async def _save(self, **changes: Any) -> None:
        await self.ensure_loaded()  # (a save sets only ``changes``; reads before it must see the saved row too)
        self.row = await self.journal.state.save_settings(self.clock(), **changes)

    # ------------------------------------------------------------------ typed views

    @property
    def paused(self) -> bool:
        return self.row.paused

    async def set_paused(self, value: bool) -> None:
        await self._save(paused=value)

    @property
    def mode(self) -> str:
        return self.row.mode or self.cfg.bot.mode

    async def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError("mode must be auto or confirm")
        await self._save(mode=mode)

    @property
    def risk(self) -> RiskParams:
        risk = self._live()[0]
        override = self.row.risk_pct
        return risk.model_copy(update={"risk_pct": override}) if override else risk

    async def set_risk_pct(self, pct: Decimal) -> None:
        RiskParams.model_validate({**self.cfg.risk.model_dump(), "risk_pct": pct})  # raises with the allowed range
        await self._save(risk_pct=Decimal(str(pct)))

    @property
    def strategy(self) -> StrategyParams:
        return self._live()[1]

    def applied(self) -> dict[str, object]:
        """The setting changes applied from the chat (dotted path → value), as kept in the journal."""
        return dict(self.row.overrides)

    async def apply(self, changes: dict[str, object]) -> None:
        """Validate ``changes`` (dotted paths) against the live settings and keep them; risk_pct goes to /risk's key."""
        apply_changes(self.risk, self.strategy, changes)  # raises ValidationError/KeyError: nothing is saved
        saved = self.applied()
        rest = {k: v for k, v in changes.items() if k != "risk.risk_pct"}
        saved.update({k: str(v) if isinstance(v, Decimal) else v for k, v in rest.items()})
        pct = changes.get("risk.risk_pct")
        await self._save(overrides=saved, **({"risk_pct": Decimal(str(pct))} if pct is not None else {}))

    def _live(self) -> tuple[RiskParams, StrategyParams]:
        """Config + the changes applied from chat (/optimize → Apply), kept in the journal across restarts."""
        changes = self.applied()
        if not changes:
            return self.cfg.risk, self.cfg.strategy
        key = json.dumps(changes, sort_keys=True, default=str)
        if self._cache is None or self._cache[0] != key:
            try:
                self._cache = (key, apply_changes(self.cfg.risk, self.cfg.strategy, changes))
            except (ValueError, KeyError) as exc:  # the config changed under a saved change: the config wins
                log.error("saved setting changes %s no longer fit the config (%s): using the config", changes, exc)
                self._cache = (key, (self.cfg.risk, self.cfg.strategy))
        return self._cache[1]

    # ------------------------------------------------------------------ marks

    @property
    def losses_reset_at(self) -> datetime | None:
        return self.row.losses_reset_at

    async def reset_losses(self) -> None:
        await self._save(losses_reset_at=self.clock())

    async def day_start_equity(self, day: date) -> Decimal | None:
        return await self.journal.state.day_start(day)

    async def record_day_start(self, day: date, equity: Decimal) -> None:
        """The first equity seen on ``day`` (the daily-loss limit's base); kept once."""
        await self.journal.state.record_day_start(day, equity, self.clock())

    async def new_bar(self, symbol: str, bar_time: datetime) -> bool:
        """True (and remembered) the first time a closed bar of ``symbol`` is seen; False for one already seen."""
        return await self.journal.state.new_bar(symbol, bar_time)

    async def first_alert_today(self, day: date, reason: str) -> bool:
        """True (and remembered) the first time a protection with this reason trips on ``day``."""
        return await self.journal.state.first_alert(day, reason, self.clock())
