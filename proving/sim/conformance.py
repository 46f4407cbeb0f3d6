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

# Behaviour Bybit's pages leave open, and the rule the simulator follows there (page, then the choice). Each key is
# named in proving/sim/__init__.py's rule list (checked by tests/sim/test_conformance.py).
MODELLED: dict[str, str] = {
    "resting-limit": "order/execution.mdx says a resting limit fills as maker, not how much of it trades when the "
                     "market reaches it (that depends on the unseen queue). Through its price by a tick or more: "
                     "all of it; a touch (arriving at exactly its price): BookParams.touch_share of one book "
                     "level's size at that price, floored to the qty step (proving/sim/resting.py)",
    "reduce-only-cancel": "enum.mdx cancelType CancelByReduceOnly names the cancel, not the status: an active "
                          "reduce-only order left with nothing to reduce (position closed or flipped) is "
                          "Cancelled (Deactivated is for untriggered conditional orders, enum.mdx orderStatus)",
    "partial-tpsl-size": "create-order.mdx: Partial TP/SL are created 'with the qty you actually fill'; one TP "
                         "and one SL per entry, created by its first opening fill and grown by later ones",
    "partial-tpsl-params": "a Limit TP/SL without tpLimitPrice/slLimitPrice, and a Partial trading-stop without "
                           "tpSize/slSize, are refused (10001) rather than guessed; a size above the position, a "
                           "'0' (Partial only adds) and a trailing stop in Partial mode too",
    "partial-tpsl-oco": "enum.mdx cancelType CancelByOCOSlCanceledByTpTriggered / CancelByOCOTpCanceledBySlTriggered"
                        ": a TP and SL created together are bound; the trigger of one Deactivates the other",
    "partial-tpsl-trigger": "a triggered Limit TP/SL becomes an active limit order (New, same orderId) at its limit "
                            "price, filled by the resting-limit rule, at once as taker if already marketable; its "
                            "qty is capped at the position when it triggers (a reduced position keeps the larger "
                            "untriggered size until then); it stays listed under orderFilter=StopOrder",
    "partial-tpsl-position": "position.mdx: tpslMode is 'always Full'; the row's takeProfit/stopLoss show the "
                             "Full-mode stops only, Partial ones are seen as their orders",
}
