"""The written list of where the simulator's wire rows knowingly differ from Bybit's documented examples.

``tests/sim/test_conformance.py`` compares every simulator answer with the response example on the
endpoint's Bybit docs page (``tests/fixtures/bybit_docs/``, pages under ``../shared/reference/bybit-docs/``):
same fields, same JSON types, recursively, and Bybit's ``""`` vs ``"0"`` conventions for empty values.
A difference fails the suite unless it is written here with its reason; an entry that no longer matches a
difference fails too, so this list stays short and honest. Keys are ``"METHOD /path"``, then the field's
dotted path inside ``result`` (``list.coin.free``: field ``free`` of the objects in ``list[].coin[]``).
"""

from __future__ import annotations

# Fields in the docs example that the simulator does not send.
NOT_SIMULATED: dict[str, dict[str, str]] = {
    "GET /v5/position/list": {
        "list.mmrSysUpdateTime": "the example's spelling; the page's table spells it mmrSysUpdatedTime, "
                                 "which the simulator sends (\"\": never a system risk-limit adjustment)",
    },
}

# Fields the simulator sends that neither the docs example nor the page's Response Parameters table lists.
_ORDER_LIST = ("the same order row as /v5/order/history, whose page (order-list.mdx) lists it; "
               "open-order.mdx does not")
EXTRA: dict[str, dict[str, str]] = {
    "GET /v5/order/realtime": {f"list.{k}": _ORDER_LIST for k in (
        "slippageToleranceType", "slippageTolerance", "extraFees", "rpiTakerAccess", "rpiMatchedQty")},
    "GET /v5/execution/list": {
        "list.execPnl": "Bybit's live rows carry it (ccxt 4.5.90 bybit.py quotes a recorded row with "
                        "\"execPnl\"); this docs snapshot's table predates it",
    },
}

# Empty-value conventions where the simulator follows the page's table rather than its (older) example.
VALUES: dict[str, dict[str, str]] = {
    "GET /v5/order/realtime": {
        "list.avgPrice": "table: 'returns \"\" for those orders without avg price'; the example shows \"0\"",
    },
    "GET /v5/order/history": {
        "list.avgPrice": "table: 'returns \"\" for those orders without avg price'; the example shows \"0\"",
    },
    "GET /v5/account/wallet-balance": {
        "list.coin.availableToWithdraw": "table: deprecated for accountType=UNIFIED since 9 Jan 2025; the "
                                         "simulator sends \"\" (use totalAvailableBalance)",
        "list.coin.availableToBorrow": "table: 'Deprecated field, always return \"\"'; the example shows \"3\"",
    },
    "GET /v5/position/list": {
        "list.bustPrice": "table: 'Deprecated, always \"\"'; the example shows a price",
    },
}
