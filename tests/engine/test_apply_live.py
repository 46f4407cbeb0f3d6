"""Settings applied under open positions (issue 19, item 5): a new leverage is set on the exchange before anything is
sized with it, or refused with the exchange's reason and nothing changed; a trailing-mode change converts the open
trades so they stay trailed. On the old code Apply saved the leverage and told the person it would take effect "at
the next start" (sizing used it at once while the exchange kept the old one), and bot → exchange trailing left the
open trade with no trailing at all: the first three tests failed.

Bybit rule (tests/fixtures/bybit_docs/bybit_set_leverage.md, from the Bybit v5 docs position/leverage.mdx and error.mdx):
``POST /v5/position/set-leverage`` sets ``buyLeverage`` = ``sellLeverage`` in [1, max leverage] for one symbol;
retCode 110043 "Set leverage has not been modified" means it already is that value.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.engine.conftest import SYMBOL
from tradebot.bybit.codes import error_for
from tradebot.errors import UserError
from tradebot.events import ConfirmationNeeded


def exchange_leverage(sim) -> Decimal:
    with sim.lock:
        return sim.exchange.positions[SYMBOL].leverage


async def test_a_new_leverage_is_set_on_the_exchange_before_it_is_used(make_rig, sim):
    rig = make_rig()
    await rig.engine.start()
    assert exchange_leverage(sim) == rig.engine.settings.risk.leverage
    out = await rig.engine.applier.apply({"risk.leverage": "3"})
    assert out.status == "ok" and "Leverage 3x is set on the exchange" in out.text, out.text
    assert exchange_leverage(sim) == 3 and rig.engine.settings.risk.leverage == 3


async def test_a_leverage_the_exchange_already_has_is_applied(make_rig, sim):
    rig = make_rig()
    await rig.engine.start()
    await rig.client.set_leverage(SYMBOL, Decimal("7"))  # set by hand on the website: 110043 on the next set
    out = await rig.engine.applier.apply({"risk.leverage": "7"})
    assert out.status == "ok" and rig.engine.settings.risk.leverage == 7


async def test_a_leverage_the_exchange_refuses_changes_nothing(make_rig, sim, monkeypatch):
    rig = make_rig()
    await rig.engine.start()
    before = rig.engine.settings.risk.leverage

    async def refuse(symbol, leverage):
        raise error_for(110013, "cannot set leverage due to risk limit level", "/v5/position/set-leverage")

    monkeypatch.setattr(rig.client, "set_leverage", refuse)
    with pytest.raises(UserError) as refused:  # the chat shows it as the Apply button's alert
        await rig.engine.applier.apply({"risk.leverage": "50", "risk.tp_atr": "4"})
    text = str(refused.value)
    assert "refused leverage 50x on BTCUSDT (retCode 110013)" in text and "risk-limit tier" in text
    assert "Nothing was changed" in text
    assert rig.engine.settings.risk.leverage == before and rig.engine.settings.risk.tp_atr != 4 and not rig.engine.settings.applied()


async def test_bot_to_exchange_trailing_converts_the_open_trade(make_rig, sim):
    rig = make_rig(mode="confirm", trailing="bot")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    assert (await rig.engine.desk.approve(card.confirmation_id, 1)).status == "executed"
    assert not Decimal(rig.position()["trailingStop"] or 0)
    out = await rig.engine.applier.apply({"risk.trailing_mode": "exchange"})
    assert out.status == "ok" and "Open trades converted to exchange trailing: BTCUSDT" in out.text, out.text
    pos = rig.position()
    [trade] = await rig.journal.trades.open()
    assert Decimal(pos["trailingStop"]) == trade.trailing_distance > 0
    assert Decimal(pos["stopLoss"]) == card.sl  # the stop-loss stays where it was


async def test_exchange_to_bot_trailing_says_the_bot_trails_the_open_trade(make_rig, sim):
    rig = make_rig(mode="confirm", trailing="exchange")
    await rig.engine.tick(SYMBOL)
    [card] = rig.events.of(ConfirmationNeeded)
    assert (await rig.engine.desk.approve(card.confirmation_id, 1)).status == "executed"
    trailing = Decimal(rig.position()["trailingStop"])
    out = await rig.engine.applier.apply({"risk.trailing_mode": "bot"})
    assert out.status == "ok" and "the bot now trails their stop-loss" in out.text
    assert Decimal(rig.position()["trailingStop"]) == trailing  # kept: it only ever tightens
