"""SavedSettings: what the bot keeps in the journal across restarts (mode, risk, pause, applied settings, marks)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Unpack

from pydantic import ValidationError

from storage.journal import Journal
from storage.models import ChatSettings
from storage.state import SettingsChanges
from storage.types import to_money
from tradebot.settings.config import Config
from tradebot.settings.overrides import apply_changes
from tradebot.sizing.instruments import format_decimal
from tradebot.sizing.risk import RiskParams
from tradebot.states import TradeMode
from tradebot.strategy import StrategyParams

log = logging.getLogger("tradebot.tick.engine")
RISK_STEP = Decimal("0.0000000001")  # the journal keeps a risk % to 10 decimal places (storage.types.to_money)


def storable_risk_pct(pct: Decimal, base: RiskParams) -> Decimal:
    """``pct`` as the journal will keep it, checked against RiskParams' range; ValueError with the allowed range
    when it is out of range or has more decimals than the journal keeps (1E-30 would be kept as 0, which means
    "no override": live risk would silently return to the config's)."""
    if not pct.is_finite():
        raise ValueError(f"Risk {pct}% is not a number")
    try:
        RiskParams.model_validate({**base.model_dump(), "risk_pct": pct})
    except ValidationError:
        raise ValueError(f"Risk {format_decimal(pct)}% is out of range") from None
    if to_money(pct) != pct:
        raise ValueError(f"Risk {format_decimal(pct)}% cannot be kept: the smallest step is "
                         f"{format_decimal(RISK_STEP)}%, from {format_decimal(RISK_STEP)} to 10")
    return to_money(pct)


class SavedSettings:
    """The live settings (config + what the chat changed) and the few marks the engine keeps between ticks.

    The settings row is read from the journal once (``load``, at start) and kept here; every change is written
    through before it takes effect, so reads never touch the database."""

    def __init__(self, cfg: Config, journal: Journal, clock: Callable[[], datetime]) -> None:
        self.cfg, self.journal, self.clock = cfg, journal, clock
        self.row = ChatSettings()  # the defaults until load(): nothing changed from the chat
        self.loaded = False
        self._cache: tuple[str, tuple[RiskParams, StrategyParams]] | None = None
        self._risk_cache: tuple[RiskParams, Decimal, RiskParams] | None = None  # (live, override, validated)

    async def load(self) -> None:
        """Read the settings row (at start, and before anything decides or saves with it)."""
        self.row = await self.journal.state.settings()
        self.loaded = True

    async def ensure_loaded(self) -> None:
        if not self.loaded:
            await self.load()

    async def _save(self, **changes: Unpack[SettingsChanges]) -> None:
        await self.ensure_loaded()  # (a save sets only ``changes``; reads before it must see the saved row too)
        self.row = await self.journal.state.save_settings(self.clock(), **changes)

    # ------------------------------------------------------------------ typed views

    @property
    def paused(self) -> bool:
        return self.row.paused

    async def set_paused(self, value: bool) -> None:
        await self._save(paused=value)

    @property
    def symbols(self) -> list[str]:
        """The watch list: what /symbols left (kept across restarts), else the config's symbols at start."""
        return list(self.row.symbols) if self.row.symbols is not None else list(self.cfg.file.bot.symbols)

    def watched(self, symbol: str) -> bool:
        return symbol in self.symbols

    async def set_symbols(self, symbols: list[str]) -> None:
        await self._save(symbols=list(symbols))

    @property
    def mode(self) -> TradeMode:
        return TradeMode(self.row.mode or self.cfg.bot.mode)

    async def set_mode(self, mode: TradeMode | str) -> None:
        if mode not in tuple(TradeMode):
            raise ValueError("mode must be auto or confirm")
        await self._save(mode=TradeMode(mode))

    @property
    def risk(self) -> RiskParams:
        """The live risk settings: the config, the changes applied from chat, and /risk's override, validated
        together (a saved value the rules no longer allow is logged and the rest applies)."""
        risk = self._live()[0]
        override = self.row.risk_pct
        if override is None:
            return risk
        if self._risk_cache is None or self._risk_cache[:2] != (risk, override):
            try:
                live = RiskParams.model_validate({**risk.model_dump(), "risk_pct": override})
            except ValidationError as exc:
                log.error("the saved risk %% %s is not allowed (%s): using %s", override, exc, risk.risk_pct)
                live = risk
            self._risk_cache = (risk, override, live)
        return self._risk_cache[2]

    async def set_risk_pct(self, pct: Decimal) -> Decimal:
        """Keep ``pct`` as the live risk %; returns it as kept. ValueError (with the allowed range) if it is not
        allowed or cannot be kept exactly."""
        kept = storable_risk_pct(pct, self._live()[0])
        await self._save(risk_pct=kept)
        return kept

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
        kept = None if pct is None else storable_risk_pct(Decimal(str(pct)), self._live()[0])
        if kept is not None:
            await self._save(overrides=saved, risk_pct=kept)
        else:
            await self._save(overrides=saved)

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
