"""Queries for the product categories the simulator holds nothing in: ``spot``, ``inverse`` and ``option``.

The simulator's account trades linear USDT perpetuals only, so for the other categories an endpoint's page allows,
it answers what Bybit answers an account that holds none there: an empty ``list`` in the page's response shape
(third-party clients ask these at start, e.g. ccxt's position snapshot asks linear and inverse). The categories each
endpoint accepts come from its docs page's Request Parameters (``category`` row); one the page does not list is
refused as before (10001 ``Illegal category``), and so are required parameters the page names per category.
Creating orders or changing positions in those categories is not simulated (10001, as before).
"""

from __future__ import annotations

from collections.abc import Callable

from .host import SimHost
from .params import Params, Result, err, time_window

Handler = Callable[[SimHost, Params], Result]
EmptyAnswer = Callable[[SimHost, Params, str], Result]

ALL = ("spot", "inverse", "option")


def listed(sim: SimHost, p: Params, cat: str) -> Result:
    """``{category, list: [], nextPageCursor: ""}``: position, open orders, instruments-info."""
    return {"category": cat, "list": [], "nextPageCursor": ""}


def history(sim: SimHost, p: Params, cat: str) -> Result:
    """An empty page of a 7-day-window history (order-list.mdx, execution.mdx, close-pnl.mdx): the window rule
    still applies (more than 7 days between startTime and endTime is 10001, whatever the category)."""
    time_window(p, sim.market_time())
    return listed(sim, p, cat)


def tickers(sim: SimHost, p: Params, cat: str) -> Result:
    """market/tickers.mdx: ``{category, list}``."""
    return {"category": cat, "list": []}


def fee_rate(sim: SimHost, p: Params, cat: str) -> Result:
    """account/fee-rate.mdx: ``{list}`` (no category echoed)."""
    return {"list": []}


def cancel_all(sim: SimHost, p: Params, cat: str) -> Result:
    """cancel-all.mdx: ``inverse`` needs symbol, baseCoin or settleCoin (spot and option need none); nothing to
    cancel."""
    if cat == "inverse" and not (p.str("symbol") or p.str("baseCoin") or p.str("settleCoin")):
        raise err("Missing some parameters that must be filled in, symbol or baseCoin or settleCoin")
    return {"list": [], "success": "1"}


def serving(handler: Handler, others: tuple[str, ...], empty: EmptyAnswer) -> Handler:
    """``handler`` for ``linear`` (and for anything it refuses); ``empty`` for the ``others`` the page allows."""

    def route(sim: SimHost, p: Params) -> Result:
        cat = p.str("category")
        return empty(sim, p, cat) if cat in others else handler(sim, p)

    route.__name__ = handler.__name__
    route.__doc__ = handler.__doc__
    return route


# endpoint → (the categories besides linear its page lists, the empty answer)
OTHER: dict[str, tuple[tuple[str, ...], EmptyAnswer]] = {
    "/v5/position/list": (("inverse", "option"), listed),  # position/position.mdx
    "/v5/order/realtime": (ALL, listed),  # order/open-order.mdx
    "/v5/order/history": (ALL, history),  # order/order-list.mdx
    "/v5/execution/list": (ALL, history),  # order/execution.mdx
    "/v5/position/closed-pnl": (("inverse",), history),  # position/close-pnl.mdx
    "/v5/order/cancel-all": (ALL, cancel_all),  # order/cancel-all.mdx
    "/v5/account/fee-rate": (ALL, fee_rate),  # account/fee-rate.mdx
    "/v5/market/instruments-info": (ALL, listed),  # market/instrument.mdx
    "/v5/market/tickers": (ALL, tickers),  # market/tickers.mdx
}


def route_table(table: dict[tuple[str, str], Handler]) -> dict[tuple[str, str], Handler]:
    """``table`` with the endpoints of :data:`OTHER` answering their other categories."""
    return {(m, path): serving(h, *OTHER[path]) if path in OTHER else h for (m, path), h in table.items()}
