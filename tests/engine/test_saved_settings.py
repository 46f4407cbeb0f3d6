"""SavedSettings on the typed state tables: kept across restarts, marks kept once, a new day prunes old state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from storage import make_engine, session_scope
from storage.db import init_db
from storage.journal import Journal
from storage.models import DayMark, PendingAction, ProtectionAlert
from storage.state import put_pending
from tests.engine.conftest import make_config
from tradebot.chat.service import BotService
from tradebot.errors import ArgumentError
from tradebot.tick.saved import SavedSettings

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def test_settings_persist_and_marks_are_kept_once(tmp_path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    init_db(db)
    journal = Journal(db)
    cfg = make_config(mode="confirm")
    saved = SavedSettings(cfg, journal, lambda: NOW)
    await saved.load()
    assert (saved.paused, saved.mode, saved.losses_reset_at, saved.applied()) == (False, "confirm", None, {})
    await saved.set_paused(True)
    await saved.set_mode("auto")
    await saved.set_risk_pct(Decimal("0.5"))
    await saved.reset_losses()
    await saved.apply({"risk.tp_atr": Decimal("4.5"), "risk.risk_pct": Decimal("0.75")})
    again = SavedSettings(cfg, journal, lambda: NOW)  # a restart
    await again.load()
    assert (again.paused, again.mode, again.losses_reset_at) == (True, "auto", NOW)
    assert again.risk.risk_pct == Decimal("0.75") and again.risk.tp_atr == Decimal("4.5")
    assert again.applied() == {"risk.tp_atr": "4.5"}

    day = NOW.date()
    await again.record_day_start(day, Decimal("1000"))
    await again.record_day_start(day, Decimal("900"))
    assert await again.day_start_equity(day) == Decimal("1000")
    assert await again.day_start_equity(day - timedelta(days=1)) is None
    assert await again.new_bar("BTCUSDT", NOW) and not await again.new_bar("BTCUSDT", NOW)
    assert not await again.new_bar("BTCUSDT", NOW - timedelta(minutes=5))
    assert await again.new_bar("BTCUSDT", NOW + timedelta(1))
    assert await again.first_alert_today(day, "daily loss limit")
    assert not await again.first_alert_today(day, "daily loss limit")
    journal.close()
    db.dispose()


async def test_a_new_days_first_mark_prunes_by_that_day(tmp_path) -> None:
    """The prune runs on the day being recorded (the market clock), not the wall clock: a replay of 2025 keeps its
    marks even though the wall clock is later."""
    db = make_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    init_db(db)
    journal = Journal(db)
    saved = SavedSettings(make_config(), journal, lambda: NOW)
    start = date(2025, 6, 1)
    for i in range(12):
        await saved.record_day_start(start + timedelta(days=i), Decimal(1000 + i))
        await saved.first_alert_today(start + timedelta(days=i), "3 consecutive losses")
    with session_scope(db) as s:
        put_pending(session=s, token="old", kind="button", payload={}, expires_at=datetime(2025, 6, 1, tzinfo=UTC))
        put_pending(session=s, token="live", kind="button", payload={}, expires_at=NOW)
    await saved.record_day_start(start + timedelta(days=12), Decimal(2000))
    with session_scope(db) as s:
        days = sorted(r.day for r in s.exec(select(DayMark)).all())
        alerts = sorted(r.day for r in s.exec(select(ProtectionAlert)).all())
        tokens = [r.token for r in s.exec(select(PendingAction)).all()]
    assert days == [start + timedelta(days=i) for i in range(5, 13)]  # the new day and the 7 before it
    assert alerts == [start + timedelta(days=11)]  # yesterday's (the new day has none yet)
    assert tokens == ["live"]
    journal.close()
    db.dispose()


async def test_risk_is_kept_exactly_or_refused_with_the_allowed_range(make_rig, sim, db) -> None:
    """Issue 19: ``/risk 1e-30`` answered "set to 1E-30%" and kept 0 (the journal keeps 10 decimal places), which
    reads as "no override": live risk silently went back to the config's. Now it is refused, nothing kept."""
    rig = make_rig(mode="confirm")
    service = BotService(rig.cfg, rig.engine, rig.client, rig.journal, lambda: NOW)
    with pytest.raises(ArgumentError, match=r"'1e-30' is not a number"):  # chat input: ASCII digits, no exponent
        await service.set_risk("1e-30")
    with pytest.raises(ArgumentError, match=r"Risk 0\.0{11}1% cannot be kept: the smallest step is 0\.0{9}1%"):
        await service.set_risk("0.000000000001")
    assert rig.engine.settings.row.risk_pct is None and rig.engine.settings.risk.risk_pct == rig.cfg.risk.risk_pct
    with pytest.raises(ArgumentError, match=r"^Risk 50% is out of range\.$"):
        await service.set_risk("50")
    out = await service.set_risk("1.50")
    assert out.text.startswith("Risk per trade set to 1.5% ") and rig.engine.settings.risk.risk_pct == Decimal("1.5")
    out = await service.set_risk("0.0000000001")  # the smallest step is kept as it is
    assert "set to 0.0000000001%" in out.text and rig.engine.settings.risk.risk_pct == Decimal("1e-10")


async def test_saved_settings_are_applied_with_validation(make_rig, sim, db) -> None:
    """A saved risk % the rules do not allow (written by an older release, or the config changed under it) is
    validated when applied, never copied in unchecked: the config's value applies and the error is logged."""
    rig = make_rig(mode="confirm")
    await rig.journal.state.save_settings(NOW, risk_pct=Decimal("50"))
    await rig.engine.settings.load()
    assert rig.engine.settings.risk.risk_pct == rig.cfg.risk.risk_pct  # not 50
    await rig.journal.state.save_settings(NOW, risk_pct=Decimal("2"))
    await rig.engine.settings.load()
    assert rig.engine.settings.risk.risk_pct == Decimal("2")
