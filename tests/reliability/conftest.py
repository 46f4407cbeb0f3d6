"""Reliability fixtures: a journal, an in-process simulator over hand-made candles, the engine test Rig."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from proving.sim import BookParams, Simulator
from storage.db import init_db, make_engine
from tests.engine.conftest import KEY, SECRET, SYMBOL, Rig, make_config, trend_rows


@pytest.fixture
def db():
    eng = make_engine("sqlite://")
    init_db(eng)
    yield eng
    eng.dispose()


@pytest.fixture
async def make_rig(db):
    """``make_rig(rows=None, **config)`` → a Rig on a fresh simulator replaying ``rows`` (default: uptrend)."""
    made: list[tuple[Rig, Simulator]] = []

    def build(rows: list[Any] | None = None, transport: Callable[[Simulator], Any] | None = None,
              **cfg_kw: Any) -> Rig:
        sim = Simulator(symbols=[SYMBOL], candles={SYMBOL: rows or trend_rows(300)}, warmup=250,
                        rate_limits=False, book=BookParams.zero(), api_key=KEY, api_secret=SECRET,
                        balance=Decimal("10000"))
        rig = Rig(sim, make_config(**cfg_kw), db)
        if transport is not None:
            rig.client._http._transport = transport(sim)
        made.append((rig, sim))
        return rig

    yield build
    for rig, sim in made:
        await rig.close()
        sim.close()
