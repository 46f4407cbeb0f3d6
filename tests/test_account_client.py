"""Client reads of the account settings checked at start, on Bybit's documented response shapes."""

from __future__ import annotations

from decimal import Decimal

from tests.test_bybit_client import client, ok, path_re  # noqa: F401  (the client fixture)
from tradebot.tick.account import account_problems


def position_row(idx: int, side: str) -> dict:
    return {"positionIdx": idx, "symbol": "BTCUSDT", "side": side, "size": "0", "avgPrice": "0", "markPrice": "1",
            "leverage": "10", "takeProfit": "", "stopLoss": "", "trailingStop": "0", "unrealisedPnl": "",
            "curRealisedPnl": "0", "cumRealisedPnl": "0", "positionValue": "", "liqPrice": "",
            "createdTime": "1", "updatedTime": "1", "seq": 1}


async def test_hedge_mode_shows_as_position_idx_1_and_2(client, httpx_mock):  # noqa: F811
    # position/position.mdx: positionIdx 0 one-way; 1 Buy side and 2 Sell side of hedge ("both side") mode
    httpx_mock.add_response(url=path_re("/v5/position/list"), json=ok(
        {"category": "linear", "list": [position_row(1, "Buy"), position_row(2, "Sell")], "nextPageCursor": ""}))
    httpx_mock.add_response(url=path_re("/v5/account/info"), json=ok(
        {"marginMode": "REGULAR_MARGIN", "updatedTime": "1697078946000", "unifiedMarginStatus": 4,
         "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0, "isMasterTrader": False,
         "spotHedgingStatus": "OFF"}))  # account/account-info.mdx's response example
    httpx_mock.add_response(url=path_re("/v5/account/fee-rate"), json=ok(
        {"list": [{"symbol": "ETHUSDT", "takerFeeRate": "0.0006", "makerFeeRate": "0.0001"}]}))  # fee-rate.mdx
    idxs = await client.position_idxs("BTCUSDT")
    info = await client.account_info()
    assert idxs == {1, 2} and info.unified and info.margin_mode == "REGULAR_MARGIN"
    [problem] = account_problems(info, {"BTCUSDT": idxs})
    assert "hedge mode" in problem and "One-Way Mode" in problem
    rates = await client.fee_rates("ETHUSDT")
    assert rates["ETHUSDT"].taker == Decimal("0.0006") and rates["ETHUSDT"].maker == Decimal("0.0001")
