"""Liquidation shown to a trader: Bybit's liqPrice where it exists, else one cross-margin estimate, labelled."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from handlers.render.formatting import liquidation, render_positions
from tradebot.bybit.account_models import Position
from tradebot.chat.views import PositionView
from tradebot.sizing.risk import cross_liquidation_price, maintenance_margin


def test_cross_estimate_uses_the_whole_wallet() -> None:
    # long 1 BTC at 50,000 with 10,000 USDT equity: liquidated when 10,000 − loss = 0.5% × P
    assert cross_liquidation_price("Buy", D(50000), D(1), D(10000)).quantize(D("0.01")) == D("40201.01")
    assert cross_liquidation_price("Sell", D(50000), D(1), D(10000)).quantize(D("0.01")) == D("59701.49")
    # more equity, farther away; a second position's maintenance margin brings it closer
    assert cross_liquidation_price("Buy", D(50000), D(1), D(20000)) < cross_liquidation_price("Buy", D(50000), D(1),
                                                                                             D(10000))
    assert cross_liquidation_price("Buy", D(50000), D(1), D(10000), other_maintenance=D(500)) > \
        cross_liquidation_price("Buy", D(50000), D(1), D(10000))
    # a wallet that covers a fall to zero: no liquidation price
    assert cross_liquidation_price("Buy", D(50000), D("0.1"), D(10000)) is None


@given(side=st.sampled_from(["Buy", "Sell"]), price=st.decimals(D(1), D(200000), places=2),
       qty=st.decimals(D("0.001"), D(100), places=3), equity=st.decimals(D(10), D(1000000), places=2),
       fee=st.sampled_from([D(0), D("0.00055")]))
def test_at_the_estimate_equity_equals_maintenance(side: str, price: D, qty: D, equity: D, fee: D) -> None:
    assume(equity > (D("0.005") + fee) * qty * price)  # not already below maintenance
    liq = cross_liquidation_price(side, price, qty, equity, fee_rate=fee)  # type: ignore[arg-type]
    if liq is None:
        assert side == "Buy"
        return
    move = qty * (liq - price) * (1 if side == "Buy" else -1)
    assert abs((equity + move) - (D("0.005") + fee) * qty * liq) < D("0.000001") * max(equity, qty * liq)
    assert (liq < price) if side == "Buy" else (liq > price)


def test_maintenance_margin_of_open_positions() -> None:
    rows = [{"symbol": "ETHUSDT", "side": "Buy", "size": "2", "avgPrice": "3000", "markPrice": "3100"},
            {"symbol": "SOLUSDT", "side": "", "size": "0", "avgPrice": "0", "markPrice": "150"}]
    assert maintenance_margin([Position.from_api(r) for r in rows]) == D("31.000")


def _view(liq: D | None, source: str) -> PositionView:
    return PositionView("BTCUSDT", "Buy", D("0.5"), D(100000), D(101000), D(500), D(1), D(99000), D(103000), liq,
                        D(5), "waiting for break-even", True, source, D(10000), D(5))


@pytest.mark.parametrize(("liq", "source", "shown"), [
    (D("80500.5"), "exchange", "Liquidation 80,500.5 (the exchange's figure)"),
    (D("81234.5"), "estimate", "Liquidation ≈ 81,234.5 (estimate, cross margin)"),
    (D(0), "estimate", "Liquidation none: the wallet covers a fall to 0 (estimate, cross margin)"),
    (None, "estimate", "Liquidation unknown (the wallet could not be read)"),
])
def test_positions_say_where_the_liquidation_price_comes_from(liq: D | None, source: str, shown: str) -> None:
    text = render_positions([_view(liq, source)])
    assert shown in text and "liq —" not in text
    assert "Unrealised <b>+500.00 USDT</b>: +5.00% of margin (10,000.00 USDT), +1.00% of notional" in text


def test_card_wording() -> None:
    assert liquidation(D("86000.1"), "estimate") == "≈ 86,000.1 (estimate, cross margin)"
