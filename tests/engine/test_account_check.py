"""Account checks at start (issue 11 §1): margin mode, unified status and position mode are read, and the bot
refuses to trade on what it does not support, naming the setting and how to change it. The taker rate for sizing
comes from the fee-rate endpoint.

Doc pages: account/account-info.mdx (unifiedMarginStatus, marginMode), enum.mdx#unifiedmarginstatus,
position/position.mdx (positionIdx 0 one-way, 1/2 hedge), position/position-mode.mdx, account/fee-rate.mdx.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from proving.sim import Fees
from tests.engine.conftest import SYMBOL
from tests.sim.helpers import SyncApi, make_sim
from tradebot.bybit.account_models import AccountInfo
from tradebot.events import ConfirmationNeeded, EntryFilled, ErrorEvent, Lifecycle, SignalEvent
from tradebot.tick.account import account_problems

UTA = AccountInfo(5, "REGULAR_MARGIN", 0)


def test_supported_account_has_no_problems():
    assert account_problems(UTA, {"BTCUSDT": {0}}) == []
    assert account_problems(AccountInfo(6, "PORTFOLIO_MARGIN", 0), {"BTCUSDT": {0}}) == []


@pytest.mark.parametrize(("info", "idxs", "words"), [
    (AccountInfo(1, "REGULAR_MARGIN", 0), {"BTCUSDT": {0}}, ["classic account", "unifiedMarginStatus 1",
                                                             "Unified Trading Account", "Upgrade"]),
    (AccountInfo(5, "ISOLATED_MARGIN", 0), {"BTCUSDT": {0}}, ["ISOLATED_MARGIN", "Cross Margin",
                                                              "setMarginMode=REGULAR_MARGIN"]),
    (UTA, {"BTCUSDT": {1, 2}}, ["BTCUSDT is in hedge mode", "positionIdx", "One-Way Mode", "switch-mode mode=0"]),
])
def test_unsupported_settings_are_named_with_the_fix(info, idxs, words):
    [problem] = account_problems(info, idxs)
    for w in words:
        assert w in problem, (w, problem)


def test_sim_account_info_and_fee_rate_are_shaped_like_the_docs():
    sim = make_sim(rate_limits=False)
    with httpx.Client(transport=sim.sync_transport(), base_url="http://sim") as c:
        api = SyncApi(c)
        info = api.ok("GET", "/v5/account/info")
        # account/account-info.mdx response example: these keys, these JSON types
        assert set(info) == {"marginMode", "updatedTime", "unifiedMarginStatus", "dcpStatus", "timeWindow",
                             "smpGroup", "isMasterTrader", "spotHedgingStatus"}
        assert isinstance(info["unifiedMarginStatus"], int) and isinstance(info["updatedTime"], str)
        assert isinstance(info["isMasterTrader"], bool) and isinstance(info["timeWindow"], int)
        rates = api.ok("GET", "/v5/account/fee-rate", category="linear", symbol="BTCUSDT")
        # account/fee-rate.mdx response example: {"list": [{"symbol", "takerFeeRate", "makerFeeRate"}]}
        assert rates == {"list": [{"symbol": "BTCUSDT", "takerFeeRate": "0.00055", "makerFeeRate": "0.0002"}]}
    sim.close()


@pytest.mark.parametrize(("settings", "words"), [
    ({"marginMode": "ISOLATED_MARGIN"}, ["ISOLATED_MARGIN", "set-margin-mode"]),
    ({"unifiedMarginStatus": 1}, ["classic account", "Unified Trading Account"]),
])
async def test_engine_refuses_to_trade_on_unsupported_account(make_rig, sim, settings, words):
    sim.account_settings = settings
    rig = make_rig(mode="auto")
    await rig.engine.tick(SYMBOL)
    [alert] = [e for e in rig.events.of(ErrorEvent) if e.critical]
    assert alert.message.startswith("not trading:") and all(w in alert.message for w in words)
    assert not rig.events.of(EntryFilled) and rig.position() is None  # the Buy signal was not traded
    block = await rig.engine.gate.block(SYMBOL, rig.engine.market.now_for(SYMBOL))
    assert block is not None and block.text == rig.engine.gate.account.refusal


async def test_engine_sizes_with_the_exchange_fee_rate(make_rig, sim):
    sim.exchange.fees = Fees(taker=Decimal("0.0006"), maker=Decimal("0.0001"))
    rig = make_rig(mode="confirm")
    await rig.engine.tick(SYMBOL)
    [started] = [e for e in rig.events.of(Lifecycle) if e.message.startswith("Account:")]
    assert "Unified Trading Account 2.0, cross margin, one-way mode" in started.message
    assert "taker fee BTCUSDT 0.06%" in started.message and "% of the available balance, after fees" in started.message
    [card] = rig.events.of(ConfirmationNeeded)
    assert card.fee_rate == Decimal("0.0006") and card.risk_base == "available balance"
    assert card.fees_usdt == card.qty * Decimal("0.0006") * (card.price + card.sl * (1 - Decimal("0.0002")))


async def test_trade_whose_fees_exceed_max_fee_share_is_refused_in_chat_and_journal(make_rig, sim, db):
    from sqlmodel import select

    from storage.db import session_scope
    from storage.models import SignalRecord

    rig = make_rig(mode="auto", max_fee_share=Decimal("0.1"))
    await rig.engine.tick(SYMBOL)
    # the refusal is said in the signal's own message (issue 21: "a signal that gets no card says why")
    [alert] = [e for e in rig.events.of(SignalEvent) if e.not_traded]
    assert alert.not_traded is not None
    assert "round-trip fees would take" in alert.not_traded and "max_fee_share 10%" in alert.not_traded
    assert not rig.events.of(EntryFilled) and rig.position() is None
    with session_scope(db) as s:
        [rec] = [r for r in s.exec(select(SignalRecord)).all() if r.action == "BUY"]
        assert "max_fee_share" in rec.breakdown["not_traded"]
