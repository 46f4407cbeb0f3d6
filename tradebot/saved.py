"""SavedSettings: what the bot keeps in the journal across restarts (mode, risk, pause, applied settings, marks)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from storage.db import session_scope
from storage.runtime import get_state, set_state
from tradebot.config import Config
from tradebot.overrides import apply_changes
from tradebot.risk import RiskParams
from tradebot.strategy import StrategyParams

log = logging.getLogger("tradebot.engine")
SETTINGS_KEY = "settings_override"  # bot state: {dotted path: value} applied from the chat
MODES = ("auto", "confirm")


class SavedSettings:
    """The live settings (config + what the chat changed) and the few marks the engine keeps between ticks."""

    def __init__(self, cfg: Config, db: Engine, clock: Callable[[], datetime]) -> None:
        self.cfg, self.db, self.clock = cfg, db, clock
        self._cache: tuple[str, tuple[RiskParams, StrategyParams]] | None = None

    # ------------------------------------------------------------------ raw state

    def get(self, key: str, default: Any = None) -> Any:
        with session_scope(self.db) as s:
            return get_state(session=s, key=key, default=default)

    def put(self, key: str, value: object) -> None:
        with session_scope(self.db) as s:
            set_state(session=s, key=key, value=value, now=self.clock())

    # ------------------------------------------------------------------ typed views

    @property
    def paused(self) -> bool:
        return bool(self.get("paused", False))

    @paused.setter
    def paused(self, value: bool) -> None:
        self.put("paused", value)

    @property
    def mode(self) -> str:
        return str(self.get("mode", self.cfg.bot.mode))

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError("mode must be auto or confirm")
        self.put("mode", mode)

    @property
    def risk(self) -> RiskParams:
        risk = self._live()[0]
        override = self.get("risk_pct")
        return risk.model_copy(update={"risk_pct": Decimal(str(override))}) if override else risk

    def set_risk_pct(self, pct: Decimal) -> None:
        RiskParams.model_validate({**self.cfg.risk.model_dump(), "risk_pct": pct})  # raises with the allowed range
        self.put("risk_pct", str(pct))

    @property
    def strategy(self) -> StrategyParams:
        return self._live()[1]

    def applied(self) -> dict[str, object]:
        """The setting changes applied from the chat (dotted path → value), as kept in the journal."""
        return dict(self.get(SETTINGS_KEY) or {})

    def apply(self, changes: dict[str, object]) -> None:
        """Validate ``changes`` (dotted paths) against the live settings and keep them; risk_pct goes to /risk's key."""
        apply_changes(self.risk, self.strategy, changes)  # raises ValidationError/KeyError: nothing is saved
        saved = self.applied()
        rest = {k: v for k, v in changes.items() if k != "risk.risk_pct"}
        saved.update({k: str(v) if isinstance(v, Decimal) else v for k, v in rest.items()})
        self.put(SETTINGS_KEY, saved)
        if "risk.risk_pct" in changes:
            self.put("risk_pct", str(changes["risk.risk_pct"]))

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
        raw = self.get("losses_reset_at")
        return datetime.fromisoformat(str(raw)) if raw else None

    def reset_losses(self) -> None:
        self.put("losses_reset_at", self.clock().isoformat())

    def day_start_equity(self, day: date) -> Decimal | None:
        raw = self.get(f"day_start:{day.isoformat()}")
        return Decimal(str(raw)) if raw else None

    def record_day_start(self, day: date, equity: Decimal) -> None:
        """The first equity seen on ``day`` (the daily-loss limit's base); kept once."""
        key = f"day_start:{day.isoformat()}"
        if self.get(key) is None:
            self.put(key, str(equity))

    def new_bar(self, symbol: str, bar_time: datetime) -> bool:
        """True (and remembered) the first time a closed bar of ``symbol`` is seen; False for one already seen."""
        key = f"last_bar:{symbol}"
        seen = self.get(key)
        if seen is not None and seen >= bar_time.isoformat():
            return False
        self.put(key, bar_time.isoformat())
        return True

    def first_alert_today(self, day: date, reason: str) -> bool:
        """True (and remembered) the first time a protection with this reason trips on ``day``."""
        key = f"protection_alert:{day.isoformat()}:{reason[:40]}"
        if self.get(key):
            return False
        self.put(key, True)
        return True
