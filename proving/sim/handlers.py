"""Bybit v5 market, order and position endpoint handlers over the Simulator state, plus the route tables."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradebot.market_model.book import book_levels
from tradebot.market_model.feed import FUNDING_MS, INTERVALS
from tradebot.market_model.instruments import INSTRUMENTS
from tradebot.money import ZERO
from tradebot.side import Side

from .account import account_info, fee_rate, wallet_balance
from .categories import route_table
from .exchange import OrderRequest, SimRejection
from .host import SimHost
from .liquidation import position_row
from .models import fmt
from .params import DAY_MS, LINK_ID, TRIGGER_BY, WEEK_MS, Params, Result, err, keyed_page, page, window
from .tpsl_params import order_tpsl, partial_trading_stop


# -- market ----------------------------------------------------------------------------------------
def market_time(sim: SimHost, p: Params) -> Result:
    ms = sim.wall_ms()
    return {"timeSecond": str(ms // 1000), "timeNano": str(ms * 1_000_000)}


def kline(sim: SimHost, p: Params) -> Result:
    cat = p.category("linear")
    sym = p.symbol(sim, code_msg="Not supported symbols")
    interval = p.str("interval", required=True)
    if interval not in INTERVALS:
        raise err("Invalid period!")
    limit = p.int("limit", 200, 1, 1000)
    assert limit is not None
    try:
        rows = sim.feeds[sym].klines(interval, p.int("start"), p.int("end"), limit)
    except ValueError as e:
        raise err(str(e)) from None
    return {"category": cat, "symbol": sym, "list": rows}


def funding_history(sim: SimHost, p: Params) -> Result:
    """Settled funding rates, newest first: every 8 h boundary of market time since the first candle, at the
    simulator's ``funding_rate`` (market/history-fund-rate.mdx: startTime alone is an error; endTime alone or
    neither gives the ``limit`` newest records up to endTime / now)."""
    cat = p.category("linear")
    sym = p.symbol(sim, code_msg="Not supported symbols")
    start, end = p.int("startTime"), p.int("endTime")
    if start is not None and end is None:
        raise err("endTime is required when startTime is set")
    limit = p.int("limit", 200, 1, 200)
    assert limit is not None
    feed = sim.feeds[sym]
    first = feed.closed[0].start if feed.closed else feed.forming.start
    hi = min(sim.market_time(), end if end is not None else sim.market_time())
    newest = hi // FUNDING_MS * FUNDING_MS
    oldest = max(-(-first // FUNDING_MS) * FUNDING_MS, start if start is not None else 0)
    times = range(newest, oldest - 1, -FUNDING_MS)[:limit]
    rate = fmt(sim.funding_rate)
    return {"category": cat, "list": [{"symbol": sym, "fundingRate": rate, "fundingRateTimestamp": str(t)}
                                      for t in times]}


def tickers(sim: SimHost, p: Params) -> Result:
    cat = p.category()
    sym = p.symbol(sim, required=False, code_msg="Not supported symbols")
    out = []
    for s in [sym] if sym else sim.symbols:
        f, ins = sim.feeds[s], INSTRUMENTS[s]
        per_day = max(1, 86_400_000 // f.interval_ms)
        day = [*f.closed[-(per_day - 1):], f.forming] if per_day > 1 else [f.forming]
        hour = [*f.closed[-max(1, 3_600_000 // f.interval_ms - 1):], f.forming]
        last, mark = f.last, sim.exchange.mark[s]
        prev24, prev1 = day[0].open, hour[0].open
        bid = book_levels(Side.SELL, last, ins.tick_size, sim.book, 1)[0]
        ask = book_levels(Side.BUY, last, ins.tick_size, sim.book, 1)[0]
        nft = (sim.market_time() // 28_800_000 + 1) * 28_800_000
        vol = sum((c.volume for c in day), ZERO)
        out.append({
            "symbol": s, "lastPrice": fmt(last), "indexPrice": fmt(mark), "markPrice": fmt(mark),
            "prevPrice24h": fmt(prev24), "price24hPcnt": fmt(((last - prev24) / prev24).quantize(Decimal("1e-6"))),
            "highPrice24h": fmt(max(c.high for c in day)), "lowPrice24h": fmt(min(c.low for c in day)),
            "prevPrice1h": fmt(prev1), "openInterest": "0", "openInterestValue": "0",
            "turnover24h": fmt(sum((c.volume * c.close for c in day), ZERO).quantize(Decimal("0.0001"))),
            "volume24h": fmt(vol), "fundingRate": fmt(sim.funding_rate), "nextFundingTime": str(nft),
            "fundingIntervalHour": "8", "fundingCap": "0.005", "predictedDeliveryPrice": "", "basisRate": "",
            "basis": "", "deliveryFeeRate": "", "deliveryTime": "0", "basisRateYear": "",
            "bid1Price": fmt(bid[0]), "bid1Size": fmt(bid[1]), "ask1Price": fmt(ask[0]), "ask1Size": fmt(ask[1]),
            "preOpenPrice": "", "preQty": "", "curPreListingPhase": "",
        })
    return {"category": cat, "list": out}


def orderbook(sim: SimHost, p: Params) -> Result:
    p.category()
    sym = p.symbol(sim, code_msg="Not supported symbols")
    limit = p.int("limit", 25, 1, 1000)
    assert limit is not None
    ins, last = INSTRUMENTS[sym], sim.feeds[sym].last

    def side(s: Side) -> list[list[str]]:
        return [[fmt(px), fmt(q)] for px, q in book_levels(s, last, ins.tick_size, sim.book, limit)]

    now = sim.wall_ms()
    return {"s": sym, "b": side(Side.SELL), "a": side(Side.BUY), "ts": now, "u": sim.exchange.seq,
            "seq": sim.exchange.seq, "cts": sim.market_time()}


def instruments_info(sim: SimHost, p: Params) -> Result:
    cat = p.category()
    sym = p.str("symbol")
    status = p.str("status", default="Trading")
    rows = [INSTRUMENTS[s].wire() for s in sim.symbols if (not sym or s == sym) and status == "Trading"]
    chunk, cursor = page(rows, p, 500, 1000)
    return {"category": cat, "list": chunk, "nextPageCursor": cursor}


def not_simulated(sim: SimHost, p: Params) -> Result:
    raise err("not simulated: the simulator keeps no mark/index price candle history (see proving.sim)")


# -- orders ----------------------------------------------------------------------------------------
def _position_idx(p: Params) -> None:
    idx = p.int("positionIdx", 0)
    if idx in (1, 2):
        raise err("position idx not match position mode")
    if idx != 0:
        raise err("params error: positionIdx invalid")


def order_create(sim: SimHost, p: Params) -> Result:
    p.category()
    sym = p.symbol(sim)
    side = p.side()
    otype = p.str("orderType", required=True)
    if otype not in ("Market", "Limit"):
        raise err("params error: orderType invalid")
    qty = p.dec("qty", required=True)
    assert qty is not None
    tif = p.str("timeInForce", default="GTC")
    if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
        raise err("params error: timeInForce invalid")
    link = p.str("orderLinkId")
    if link and not LINK_ID.match(link):
        raise err("params error: orderLinkId invalid")
    _position_idx(p)
    if p.str("triggerPrice"):
        raise err("conditional orders (triggerPrice) are not supported by the simulator")
    t = order_tpsl(p, INSTRUMENTS[sym])  # Full or Partial (Market/Limit) TP/SL
    req = OrderRequest(sym, side, otype, qty, p.dec("price") if otype == "Limit" else None, tif, link,
                       p.bool("reduceOnly"), p.bool("closeOnTrigger"), t.tp, t.sl, t.tp_by, t.sl_by, t.mode,
                       t.tp_type, t.sl_type, t.tp_limit, t.sl_limit)
    order = sim.exchange.place_order(req)
    return {"orderId": order.order_id, "orderLinkId": order.link_id}


def order_cancel(sim: SimHost, p: Params) -> Result:
    p.category()
    sym = p.symbol(sim)
    oid, link = p.str("orderId"), p.str("orderLinkId")
    if not oid and not link:
        raise err("orderId or orderLinkId is required")
    order = sim.exchange.cancel_order(sym, oid, link)
    return {"orderId": order.order_id, "orderLinkId": order.link_id}


AMEND_NOT_SIMULATED = ("triggerPrice", "takeProfit", "stopLoss", "tpTriggerBy", "slTriggerBy", "triggerBy",
                       "tpLimitPrice", "slLimitPrice", "tpslMode", "orderIv")


def order_amend(sim: SimHost, p: Params) -> Result:
    p.category()
    sym = p.symbol(sim)
    order = sim.exchange.find_order(p.str("orderId"), p.str("orderLinkId"))
    if order is None or order.symbol != sym or not order.is_open:
        raise SimRejection(110001, "Order does not exist")
    if order.stop_order_type:
        raise err("amending a position TP/SL/trailing order is not simulated: use /v5/position/trading-stop")
    unsupported = [k for k in AMEND_NOT_SIMULATED if p.str(k)]
    if unsupported:
        raise err(f"amending {', '.join(unsupported)} is not simulated (only qty and price)")
    ins = INSTRUMENTS[sym]
    qty, price = p.dec("qty"), p.dec("price")
    if qty is not None and (qty % ins.qty_step or qty < max(order.cum_qty, ins.min_order_qty)):
        raise err("Qty invalid")
    if price is not None and (order.order_type != "Limit" or price % ins.tick_size or not price):
        raise err("The order price is not a multiple of tickSize")
    if (qty is None or qty == order.qty) and (price is None or price == order.price):
        raise SimRejection(10001, "The order remains unchanged as the parameters entered match the existing ones.")
    sim.exchange.amend_order(order, qty, price)
    return {"orderId": order.order_id, "orderLinkId": order.link_id}


def order_cancel_all(sim: SimHost, p: Params) -> Result:
    """cancel-all.mdx: by symbol > baseCoin > settleCoin (one is required for linear)."""
    p.category()
    sym, base, settle = p.symbol(sim, required=False), p.str("baseCoin"), p.str("settleCoin")
    if sym:
        symbols = [sym]
    elif base:
        symbols = [s for s in sim.symbols if INSTRUMENTS[s].base_coin == base]
    elif settle:
        symbols = list(sim.symbols) if settle == "USDT" else []
    else:
        raise err("Missing some parameters that must be filled in, symbol or baseCoin or settleCoin")
    flt = p.str("orderFilter")
    if flt not in ("", "Order", "StopOrder", "OpenOrder"):
        raise err("params error: orderFilter invalid")
    stop_type = p.str("stopOrderType")
    if stop_type and (stop_type != "Stop" or flt != "StopOrder"):
        raise err("params error: stopOrderType only supports Stop with orderFilter=StopOrder")
    done = sim.exchange.cancel_all(symbols, flt, stop_type)
    return {"list": [{"orderId": o.order_id, "orderLinkId": o.link_id} for o in done], "success": "1"}


def _orders_by(sim: SimHost, p: Params, *, need_scope: bool = True) -> list[Any]:
    """Orders matching the query. ``need_scope``: one of symbol/baseCoin/settleCoin is required for linear
    (open-order.mdx); order-list.mdx has no such rule for the history."""
    oid, link = p.str("orderId"), p.str("orderLinkId")
    sym = p.symbol(sim, required=False)
    settle = p.str("settleCoin")
    rows = list(reversed(sim.exchange.orders.values()))
    if oid or link:
        o = sim.exchange.find_order(oid, link)
        return [o] if o is not None and (not sym or o.symbol == sym) else []
    if need_scope and not sym and not settle and not p.str("baseCoin"):
        raise err("Missing some parameters that must be filled in, symbol or settleCoin or baseCoin")
    flt = p.str("orderFilter")
    base = p.str("baseCoin")
    rows = [o for o in rows if (not sym or o.symbol == sym) and (not settle or settle == "USDT")
            and (not base or INSTRUMENTS[o.symbol].base_coin == base)]
    if flt in ("tpslOrder", "OcoOrder", "BidirectionalTpslOrder"):
        raise err(f"orderFilter={flt} is a spot order filter; not simulated for linear")
    if flt not in ("", "Order", "StopOrder"):
        raise err("params error: orderFilter invalid")
    if flt:  # open-order.mdx: Order = active orders, StopOrder = conditional (incl. position TP/SL/trailing)
        rows = [o for o in rows if bool(o.stop_order_type) == (flt == "StopOrder")]
    return rows


def order_realtime(sim: SimHost, p: Params) -> Result:
    """open-order.mdx: openOnly 0 (default) = open orders (New, PartiallyFilled, Untriggered); 1 = the most
    recent 500 closed orders; ignored when querying by orderId/orderLinkId."""
    p.category()
    rows = _orders_by(sim, p)
    if not (p.str("orderId") or p.str("orderLinkId")):
        open_only = p.int("openOnly", 0, 0, 1)
        rows = [o for o in rows if o.is_open] if open_only == 0 else [o for o in rows if not o.is_open][:500]
    chunk, cursor = page(rows, p, 20, 50)
    return {"category": "linear", "list": [o.wire() for o in chunk], "nextPageCursor": cursor}


def _by_id(p: Params) -> bool:
    return bool(p.str("orderId") or p.str("orderLinkId"))


def order_history(sim: SimHost, p: Params) -> Result:
    """Closed orders, newest first (order/order-list.mdx): the 7-day window rule; Cancelled/Rejected/Deactivated
    orders without fills are kept 24 hours, and beyond 7 days only orders with fills are returned."""
    p.category()
    now = sim.market_time()
    index = {oid: i for i, oid in enumerate(sim.exchange.orders)}
    rows = [(index[o.order_id], o) for o in _orders_by(sim, p, need_scope=False) if not o.is_open]
    if not _by_id(p):
        rows = window(p, lambda o: o.created, rows, now)
    status = p.str("orderStatus")
    rows = [(k, o) for k, o in rows if (not status or o.status == status) and (
        o.cum_qty > 0 or (now - o.updated <= DAY_MS if o.status in ("Cancelled", "Rejected", "Deactivated")
                          else now - o.updated <= WEEK_MS))]
    chunk, cursor = keyed_page(rows, p, 20, 50)
    return {"category": "linear", "list": [o.wire() for o in chunk], "nextPageCursor": cursor}


def execution_list(sim: SimHost, p: Params) -> Result:
    """Fills and funding, newest first (order/execution.mdx): the 7-day window rule, except that a query by
    orderId/orderLinkId ignores the other parameters (the page's priority tip)."""
    p.category()
    sym = p.symbol(sim, required=False)
    oid, link, etype = p.str("orderId"), p.str("orderLinkId"), p.str("execType")
    rows = [(i, e) for i, e in reversed(list(enumerate(sim.exchange.executions)))
            if (not sym or e.symbol == sym) and (not oid or e.order_id == oid)
            and (not link or e.link_id == link) and (not etype or e.exec_type == etype)]
    if not _by_id(p):
        rows = window(p, lambda e: e.exec_time, rows, sim.market_time())
    chunk, cursor = keyed_page(rows, p, 50, 100)
    return {"category": "linear", "list": [e.wire() for e in chunk], "nextPageCursor": cursor}


# -- positions -------------------------------------------------------------------------------------
def position_list(sim: SimHost, p: Params) -> Result:
    p.category()
    sym = p.symbol(sim, required=False)
    settle = p.str("settleCoin")
    ex = sim.exchange
    if sym:
        rows = [ex.positions[sym]]
    elif settle:
        rows = [ex.positions[s] for s in sim.symbols if ex.positions[s].size and settle == "USDT"]
    else:
        raise err("Missing some parameters that must be filled in, symbol or settleCoin")
    chunk, cursor = page(rows, p, 20, 200)
    return {"category": "linear", "list": [position_row(ex, r.symbol) for r in chunk], "nextPageCursor": cursor}


def trading_stop(sim: SimHost, p: Params) -> Result:
    p.category()
    sym = p.symbol(sim)
    mode = p.str("tpslMode", required=True)
    if mode not in ("Full", "Partial"):
        raise err("params error: tpslMode invalid")
    if "positionIdx" not in p.d:
        raise err("Missing some parameters that must be filled in, positionIdx")
    _position_idx(p)
    if mode == "Partial":
        return partial_trading_stop(sim, p, sym)
    if "Limit" in (p.str("tpOrderType"), p.str("slOrderType")):
        raise err("tpOrderType/slOrderType Limit requires tpslMode=Partial")
    tp_by, sl_by = p.str("tpTriggerBy"), p.str("slTriggerBy")
    if (tp_by and tp_by not in TRIGGER_BY) or (sl_by and sl_by not in TRIGGER_BY):
        raise err("params error: TriggerBy invalid")
    sim.exchange.set_trading_stop(sym, p.dec("takeProfit"), p.dec("stopLoss"), p.dec("trailingStop"),
                                  p.dec("activePrice"), tp_by or None, sl_by or None)
    return {}


def set_leverage(sim: SimHost, p: Params) -> Result:
    p.category()
    sym = p.symbol(sim)
    buy, sell = p.dec("buyLeverage", True), p.dec("sellLeverage", True)
    if buy != sell:
        raise err("buy leverage not equal sell leverage in one-way mode")
    assert buy is not None
    sim.exchange.set_leverage(sym, buy)
    return {}


def switch_mode(sim: SimHost, p: Params) -> Result:
    p.category()
    mode = p.int("mode")
    if mode is None:
        raise err("Missing some parameters that must be filled in, mode")
    if mode == 0:
        raise SimRejection(110025, "Position mode is not modified")
    raise err("hedge mode (mode=3) is not supported by the simulator")


def closed_pnl(sim: SimHost, p: Params) -> Result:
    """Closed-position records, newest first, in the 7-day window (position/close-pnl.mdx); with the
    ``closed_pnl_lag_ms`` fault a row booked while it is set is listed that long (wall clock) after its fill, or
    as soon as the fault is cleared."""
    p.category()
    sym = p.symbol(sim, required=False)
    held, wall = sim.faults.closed_pnl_lag_ms > 0, sim.wall_ms()
    hidden = len(sim.exchange.closed) if sim.closed_pnl_hidden_from is None else sim.closed_pnl_hidden_from
    rows = [(i, c) for i, c in reversed(list(enumerate(sim.exchange.closed)))
            if (not sym or c.symbol == sym) and i < hidden and (not held or c.visible_at <= wall)]
    chunk, cursor = keyed_page(window(p, lambda c: c.created, rows, sim.market_time()), p, 50, 100)
    return {"category": "linear", "list": [c.wire() for c in chunk], "nextPageCursor": cursor}


PUBLIC: dict[tuple[str, str], Callable[[SimHost, Params], Result]] = route_table({
    ("GET", "/v5/market/time"): market_time, ("GET", "/v5/market/kline"): kline,
    ("GET", "/v5/market/tickers"): tickers, ("GET", "/v5/market/orderbook"): orderbook,
    ("GET", "/v5/market/instruments-info"): instruments_info,
    ("GET", "/v5/market/mark-price-kline"): not_simulated, ("GET", "/v5/market/index-price-kline"): not_simulated,
    ("GET", "/v5/market/funding/history"): funding_history,
})
PRIVATE: dict[tuple[str, str], Callable[[SimHost, Params], Result]] = route_table({
    ("POST", "/v5/order/create"): order_create, ("POST", "/v5/order/cancel"): order_cancel,
    ("POST", "/v5/order/amend"): order_amend, ("POST", "/v5/order/cancel-all"): order_cancel_all, ("GET", "/v5/order/realtime"): order_realtime,
    ("GET", "/v5/order/history"): order_history, ("GET", "/v5/execution/list"): execution_list,
    ("GET", "/v5/position/list"): position_list, ("POST", "/v5/position/trading-stop"): trading_stop,
    ("POST", "/v5/position/set-leverage"): set_leverage, ("POST", "/v5/position/switch-mode"): switch_mode,
    ("GET", "/v5/position/closed-pnl"): closed_pnl, ("GET", "/v5/account/wallet-balance"): wallet_balance,
    ("GET", "/v5/account/info"): account_info, ("GET", "/v5/account/fee-rate"): fee_rate,
})
