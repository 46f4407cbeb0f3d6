"""SavedSettings: what the bot keeps in the journal across restarts (mode, risk, pause, applied settings, marks)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from storage.db import session_scope
from storage.models import ChatSettings
from storage.state import (
    day_start_equity,
    first_alert,
    load_settings,
    new_bar,
    prune,
    record_day_start,
    save_settings,
)
from tradebot.config import Config
from tradebot.overrides import apply_changes
from tradebot.risk import RiskParams
from tradebot.strategy import StrategyParams

log = logging.getLogger("tradebot.engine")
MODES = ("auto", "confirm")


class SavedSettings:
    """The live settings (config + what the chat changed) and the few marks the engine keeps between ticks."""

    def __init__(self, cfg: Config, db: Engine, clock: Callable[[], datetime]) -> None:
        self.cfg, self.db, self.clock = cfg, db, clock
        self._cache: tuple[str, tuple[RiskParams, StrategyParams]] | None = None

    # ------------------------------------------------------------------ the settings row

    def get(self) -> ChatSettings:
        with session_scope(self.db) as s:
            return load_settings(session=s)

    def put(self, **fields: Any) -> None:
        with session_scope(self.db) as s:
            save_settings(session=s, **fields, now=self.clock())

    # ------------------------------------------------------------------ typed views

    @property
    def paused(self) -> bool:
        return self.get().paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self.put(paused=value)

    @property
    def mode(self) -> str:
        return self.get().mode or self.cfg.bot.mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError("mode must be auto or confirm")
        self.put(mode=mode)

    @property
    def risk(self) -> RiskParams:
        risk = self._live()[0]
        override = self.get().risk_pct
        return risk.model_copy(update={"risk_pct": override}) if override else risk

    def set_risk_pct(self, pct: Decimal) -> None:
        RiskParams.model_validate({**self.cfg.risk.model_dump(), "risk_pct": pct})  # raises with the allowed range
        self.put(risk_pct=pct)

    @property
    def strategy(self) -> StrategyParams:
        return self._live()[1]

    def applied(self) -> dict[str, object]:
        """The setting changes applied from the chat (dotted path → value), as kept in the journal."""
        return dict(self.get().overrides)

    def apply(self, changes: dict[str, object]) -> None:
        """Validate ``changes`` (dotted paths) against the live settings and keep them; risk_pct goes to /risk's key."""
        apply_changes(self.risk, self.strategy, changes)  # raises ValidationError/KeyError: nothing is saved
        saved = self.applied()
        rest = {k: v for k, v in changes.items() if k != "risk.risk_pct"}
        saved.update({k: str(v) if isinstance(v, Decimal) else v for k, v in rest.items()})
        risk_pct = changes.get("risk.risk_pct")
        self.put(overrides=saved, **({} if risk_pct is None else {"risk_pct": Decimal(str(risk_pct))}))

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
        return self.get().losses_reset_at

    def reset_losses(self) -> None:
        self.put(losses_reset_at=self.clock())

    def day_start_equity(self, day: date) -> Decimal | None:
        with session_scope(self.db) as s:
            return day_start_equity(session=s, day=day)

    def record_day_start(self, day: date, equity: Decimal) -> None:
        """The first equity seen on ``day`` (the daily-loss limit's base); kept once. A new day prunes old marks."""
        with session_scope(self.db) as s:
            if record_day_start(session=s, day=day, equity=equity, now=self.clock()):
                log.debug("journal state pruned at the start of %s: %s", day,
                          prune(session=s, now=datetime.combine(day, time(), UTC)))

    def new_bar(self, symbol: str, bar_time: datetime) -> bool:
        """True (and remembered) the first time a closed bar of ``symbol`` is seen; False for one already seen."""
        with session_scope(self.db) as s:
            return new_bar(session=s, symbol=symbol, bar_time=bar_time)

    def first_alert_today(self, day: date, reason: str) -> bool:
        """True (and remembered) the first time a protection with this reason trips on ``day``."""
        with session_scope(self.db) as s:
            return first_alert(session=s, day=day, reason=reason, now=self.clock())
