"""TP/SL request parameters of create-order and trading-stop (Full and Partial mode) parsed into values, with
Bybit-style 10001 errors (order/create-order.mdx, position/trading-stop.mdx)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradebot.market_model.instruments import INSTRUMENTS, Instrument
from tradebot.money import ZERO

from . import partial
from .host import SimHost
from .params import TRIGGER_BY, Params, Result, err

ORDER_TYPES = ("", "Market", "Limit")


@dataclass(frozen=True)
class OrderTpsl:
    """The TP/SL of an order create: levels, trigger types, mode and (Partial) how each executes."""

    mode: str
    tp: Decimal
    sl: Decimal
    tp_by: str
    sl_by: str
    tp_type: str
    sl_type: str
    tp_limit: Decimal
    sl_limit: Decimal


def _price(p: Params, name: str, ins: Instrument) -> Decimal:
    v = p.dec(name) or ZERO
    if v and v % ins.tick_size:
        raise err("The price is not a multiple of tickSize")
    return v


def _trigger_by(p: Params) -> tuple[str, str]:
    tp_by, sl_by = p.str("tpTriggerBy", default="LastPrice"), p.str("slTriggerBy", default="LastPrice")
    if tp_by not in TRIGGER_BY or sl_by not in TRIGGER_BY:
        raise err("params error: TriggerBy invalid")
    return tp_by, sl_by


def _order_types(p: Params, mode: str) -> tuple[str, str]:
    """tpOrderType/slOrderType: Market (default) or Limit; Limit only with tpslMode=Partial (create-order.mdx:
    "For tpslMode=Full, it only supports tpOrderType=Market"; "When create limit tp/sl, tpslMode is required
    and it must be Partial")."""
    tp_type, sl_type = p.str("tpOrderType"), p.str("slOrderType")
    if tp_type not in ORDER_TYPES or sl_type not in ORDER_TYPES:
        raise err("params error: tpOrderType/slOrderType invalid")
    if "Limit" in (tp_type, sl_type) and mode != "Partial":
        raise err("tpOrderType/slOrderType Limit requires tpslMode=Partial")
    return tp_type, sl_type


def _limit_price(p: Params, name: str, order_type: str, level: Decimal, ins: Instrument) -> Decimal:
    """tpLimitPrice/slLimitPrice: "only works when tpslMode=Partial and tpOrderType=Limit" (ignored otherwise);
    a Limit TP/SL needs it (the simulator refuses one without a price rather than guess it)."""
    if order_type != "Limit" or not level:
        return ZERO
    limit = _price(p, name, ins)
    if not limit:
        raise err(f"Missing some parameters that must be filled in, {name}")
    return limit


def order_tpsl(p: Params, ins: Instrument) -> OrderTpsl:
    """create-order.mdx: takeProfit, stopLoss, their trigger types, tpslMode, tpOrderType/slOrderType and
    tpLimitPrice/slLimitPrice."""
    mode = p.str("tpslMode")
    if mode not in ("", "Full", "Partial"):
        raise err("params error: tpslMode invalid")
    tp_type, sl_type = _order_types(p, mode)
    tp_by, sl_by = _trigger_by(p)
    tp, sl = _price(p, "takeProfit", ins), _price(p, "stopLoss", ins)
    return OrderTpsl(mode, tp, sl, tp_by, sl_by, tp_type if tp else "", sl_type if sl else "",
                     _limit_price(p, "tpLimitPrice", tp_type, tp, ins),
                     _limit_price(p, "slLimitPrice", sl_type, sl, ins))


def partial_trading_stop(sim: SimHost, p: Params, symbol: str) -> Result:
    """trading-stop.mdx with tpslMode=Partial: "This API can only add partial position TP/SL orders", of
    ``tpSize``/``slSize`` ("the value of tpSize and slSize must equal"); no trailing stop (whole position)."""
    for name in ("trailingStop", "activePrice"):
        if p.str(name):
            raise err(f"{name} is not supported with tpslMode=Partial: a trailing stop is on the whole position")
    ins = INSTRUMENTS[symbol]
    tp_type, sl_type = _order_types(p, "Partial")
    tp, sl = _price(p, "takeProfit", ins), _price(p, "stopLoss", ins)
    if any(p.str(k) and not p.dec(k) for k in ("takeProfit", "stopLoss")):
        raise err("tpslMode=Partial only adds TP/SL orders: cancel one by its orderId (cancel-order)")
    if not tp and not sl:
        raise err("Missing some parameters that must be filled in, takeProfit or stopLoss")
    tp_size, sl_size = p.dec("tpSize"), p.dec("slSize")
    for level, size, name in ((tp, tp_size, "tpSize"), (sl, sl_size, "slSize")):
        if level and not size:
            raise err(f"Missing some parameters that must be filled in, {name}")
    if tp and sl and tp_size != sl_size:
        raise err("params error: tpSize and slSize must be equal")
    size = tp_size if tp else sl_size
    assert size is not None
    tp_by, sl_by = _trigger_by(p)
    legs = []
    if tp:
        legs.append(partial.Leg(partial.TP, tp, tp_by, _limit_price(p, "tpLimitPrice", tp_type, tp, ins)))
    if sl:
        legs.append(partial.Leg(partial.SL, sl, sl_by, _limit_price(p, "slLimitPrice", sl_type, sl, ins)))
    partial.add(sim.exchange, symbol, legs, size)
    return {}
