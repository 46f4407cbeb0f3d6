"""BybitClient: the one place that builds Bybit v5 requests; typed endpoints over :mod:`tradebot.bybit.http`."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from tradebot.bybit import http
from tradebot.bybit.account_models import (
    AccountInfo,
    ClosedPnl,
    Execution,
    FeeRate,
    Order,
    OrderAck,
    Position,
    Wallet,
)
from tradebot.bybit.codes import DUPLICATE_ORDER_LINK_ID, ORDER_NOT_FOUND
from tradebot.bybit.market_models import FundingRate, Kline, OrderBook, Ticker, instrument_from_api
from tradebot.bybit.orders import (
    Amend,
    NewOrder,
    OrderRef,
    OrderType,
    TimeInForce,
    TpslMode,
    TradingStop,
    TriggerBy,
)
from tradebot.errors import (
    BybitAPIError,
    ExchangeError,
    NotModified,
    OrderRejected,
    RetryableError,
    TransportError,
)
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument

CATEGORY, ENVIRONMENTS, RetryPolicy = http.CATEGORY, http.ENVIRONMENTS, http.RetryPolicy
_wire, order_link_id, resolve_base_url = http._wire, http.order_link_id, http.resolve_base_url

log = logging.getLogger("tradebot.bybit")
GONE = frozenset({ORDER_NOT_FOUND, 110008, 110010})  # no such open order: filled, cancelled or unknown
WEEK_MS = 7 * 86_400_000  # the widest startTime..endTime Bybit accepts on closed-pnl, executions, order history

__all__ = ["ENVIRONMENTS", "BybitClient", "RetryPolicy", "order_link_id", "resolve_base_url"]


class BybitClient(http.BybitHTTP):
    """Async Bybit v5 REST client for linear perpetuals. Results are typed, money is Decimal.

    Reads (and idempotent writes) retry with backoff on network errors, HTTP 5xx, 10000/10016,
    10006 (until ``X-Bapi-Limit-Reset-Timestamp``) and 10002 (after a clock resync). Business
    rejections are never retried. An order create whose outcome is unknown is looked up by its
    ``orderLinkId`` before anything is re-sent, and a re-send reuses the same id, so it cannot fill twice.
    """

    # ------------------------------------------------------------------ market (public)

    async def server_time_ms(self) -> int:
        res, t = await self._send("GET", "/v5/market/time", {}, private=False)
        return int(res["timeNano"]) // 1_000_000 if res.get("timeNano") else t

    async def klines(self, symbol: str, interval: str, *, limit: int = 200,
                     start_ms: int | None = None, end_ms: int | None = None) -> list[Kline]:
        """Candles OLDEST FIRST (Bybit sends newest first; reversed here). The last one may still be forming."""
        res = await self._call("GET", "/v5/market/kline", {
            "category": CATEGORY, "symbol": symbol, "interval": interval, "limit": limit,
            "start": start_ms, "end": end_ms}, private=False)
        rows = [Kline.from_api(r) for r in res.get("list") or []]
        bad = next((k for k in rows if min(k.open, k.high, k.low, k.close) <= 0 or k.low > k.high), None)
        if bad is not None:  # absurd data must never reach the strategy or the sizing
            raise ExchangeError(f"absurd {symbol} candle from Bybit at {bad.start_ms}: open {bad.open} high {bad.high} "
                                f"low {bad.low} close {bad.close} (prices must be > 0, low <= high)")
        rows.sort(key=lambda k: k.start_ms)
        return rows

    async def funding_history(self, symbol: str, *, start_ms: int | None = None, end_ms: int | None = None,
                              limit: int = 200) -> list[FundingRate]:
        """One page of settled funding rates, OLDEST FIRST (Bybit sends newest first, at most ``limit`` ≤ 200
        up to ``end_ms``). Bybit refuses ``start_ms`` alone, so it is only sent together with ``end_ms``."""
        if start_ms is not None and end_ms is None:
            raise ValueError("funding history: start_ms needs end_ms (Bybit rejects startTime alone)")
        res = await self._call("GET", "/v5/market/funding/history", {
            "category": CATEGORY, "symbol": symbol, "startTime": start_ms, "endTime": end_ms,
            "limit": limit}, private=False)
        rows = [FundingRate.from_api(r) for r in res.get("list") or []]
        rows.sort(key=lambda f: f.time_ms)
        return rows

    async def ticker(self, symbol: str) -> Ticker:
        res = await self._call("GET", "/v5/market/tickers", {"category": CATEGORY, "symbol": symbol}, private=False)
        rows = res.get("list") or []
        if not rows:
            raise ExchangeError(f"no ticker for {symbol}")
        ticker = Ticker.from_api(rows[0])
        if ticker.last_price <= 0:
            raise ExchangeError(f"absurd {symbol} ticker from Bybit: last price {ticker.last_price}")
        return ticker

    async def orderbook(self, symbol: str, limit: int = 50) -> OrderBook:
        res = await self._call("GET", "/v5/market/orderbook",
                               {"category": CATEGORY, "symbol": symbol, "limit": limit}, private=False)
        return OrderBook.from_api(res)

    async def instrument(self, symbol: str) -> Instrument:
        res = await self._call("GET", "/v5/market/instruments-info",
                               {"category": CATEGORY, "symbol": symbol}, private=False)
        rows = res.get("list") or []
        if not rows:
            raise ExchangeError(f"unknown symbol {symbol}: Bybit has no linear instrument by that name")
        return instrument_from_api(rows[0])

    # ------------------------------------------------------------------ orders (private)

    async def place_order(
        self, *, symbol: str, side: Side, qty: Decimal, order_link_id: str, order_type: OrderType = OrderType.MARKET,
        price: Decimal | None = None, take_profit: Decimal | None = None, stop_loss: Decimal | None = None,
        tpsl_mode: TpslMode | None = None, tp_trigger_by: TriggerBy | None = None,
        sl_trigger_by: TriggerBy | None = None, reduce_only: bool = False, close_on_trigger: bool = False,
        time_in_force: TimeInForce | None = None, position_idx: int = 0, tp_order_type: OrderType | None = None,
        sl_order_type: OrderType | None = None, tp_limit_price: Decimal | None = None,
        sl_limit_price: Decimal | None = None,
    ) -> OrderAck:
        """Create an order from keywords: :meth:`place` of a :class:`NewOrder` (the enums' wire strings, "Buy" or
        "Limit", are read as their members). Accepted is not filled: confirm with :meth:`wait_order`."""
        if side not in ("Buy", "Sell"):
            raise ValueError(f"side must be 'Buy' or 'Sell', not {side!r}")
        return await self.place(NewOrder.of(
            symbol=symbol, side=side, qty=qty, order_link_id=order_link_id, order_type=order_type,
            price=price if order_type == OrderType.LIMIT else None, take_profit=take_profit, stop_loss=stop_loss,
            tpsl_mode=tpsl_mode, tp_trigger_by=tp_trigger_by, sl_trigger_by=sl_trigger_by, reduce_only=reduce_only,
            close_on_trigger=close_on_trigger, time_in_force=time_in_force, position_idx=position_idx,
            tp_order_type=tp_order_type, sl_order_type=sl_order_type, tp_limit_price=tp_limit_price,
            sl_limit_price=sl_limit_price))

    async def place(self, order: NewOrder) -> OrderAck:
        """Create ``order`` (order/create-order.mdx). An unknown outcome (network, 5xx, unreadable answer) is
        looked up by its orderLinkId before any re-send, and a re-send reuses it: it cannot fill twice."""
        body, symbol, link = order.body(), order.symbol, order.order_link_id
        for attempt in range(1, self.retry.attempts + 1):
            try:
                res = await self._call("POST", "/v5/order/create", body, private=True, idempotent=False)
                return OrderAck(res.get("orderId", ""), res.get("orderLinkId", link))
            except OrderRejected as exc:
                if exc.code != DUPLICATE_ORDER_LINK_ID:
                    raise
                found = await self.get_order(symbol, order_link_id=link)
                if found is None:
                    raise
                log.info("order %s already exists (duplicate orderLinkId): not sent again", link)
                return OrderAck(found.order_id, found.order_link_id)
            except (TransportError, RetryableError) as exc:
                log.warning("order %s outcome unknown (%s): looking it up before any re-send", link, exc)
                found = await self.get_order(symbol, order_link_id=link)
                if found is not None:
                    return OrderAck(found.order_id, found.order_link_id)
                if attempt >= self.retry.attempts:
                    raise
                await self._sleep(self.retry.delay(attempt))
            except BybitAPIError:
                raise
            except ExchangeError as exc:  # malformed / unexpected answer: the order may exist; look, never re-send
                log.warning("order %s got an unreadable answer (%s): looking it up", link, exc)
                found = await self.get_order(symbol, order_link_id=link)
                if found is not None:
                    return OrderAck(found.order_id, found.order_link_id)
                raise
        raise AssertionError("unreachable")

    async def amend_order(self, symbol: str, *, order_id: str | None = None, order_link_id: str | None = None,
                          qty: Decimal | None = None, price: Decimal | None = None) -> OrderAck | None:
        """Re-price and/or re-size an open order (order/amend-order.mdx: unfilled or partially filled only).

        None when the order is no longer open (110001/110008/110010: filled or cancelled meanwhile; a PostOnly
        re-priced across the book is cancelled by Bybit after the ack, which :meth:`get_order` shows). An
        unknown outcome is looked up: already at the new values, it is done; otherwise it is sent again."""
        body = Amend(OrderRef(symbol, order_id, order_link_id), qty, price).body()
        for attempt in range(1, self.retry.attempts + 1):
            try:
                res = await self._call("POST", "/v5/order/amend", body, private=True, idempotent=False)
                return OrderAck(res.get("orderId", order_id or ""), res.get("orderLinkId", order_link_id or ""))
            except OrderRejected as exc:
                if exc.code in GONE:
                    return None
                raise
            except (TransportError, RetryableError) as exc:
                log.warning("amend of %s outcome unknown (%s): looking it up", order_link_id or order_id, exc)
                found = await self.get_order(symbol, order_id=order_id, order_link_id=order_link_id)
                if found is None or found.is_final:
                    return None
                if (qty is None or found.qty == qty) and (price is None or found.price == price):
                    return OrderAck(found.order_id, found.order_link_id)
                if attempt >= self.retry.attempts:
                    raise
                await self._sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable")

    async def cancel_order(self, symbol: str, *, order_id: str | None = None,
                           order_link_id: str | None = None) -> bool:
        """Cancel; False when the order was already final or unknown (110001)."""
        try:
            await self._call("POST", "/v5/order/cancel", OrderRef(symbol, order_id, order_link_id).params(),
                             private=True)
        except OrderRejected as exc:
            if exc.code == ORDER_NOT_FOUND:
                return False
            raise
        return True

    async def get_order(self, symbol: str, *, order_id: str | None = None,
                        order_link_id: str | None = None) -> Order | None:
        """One order by id from realtime (open and recent), falling back to history; None if Bybit has none."""
        params = OrderRef(symbol, order_id, order_link_id).params()
        for path in ("/v5/order/realtime", "/v5/order/history"):
            res = await self._call("GET", path, params, private=True)
            rows = res.get("list") or []
            if rows:
                return Order.from_api(rows[0])
        return None

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        params = {"category": CATEGORY, "symbol": symbol, "settleCoin": None if symbol else "USDT", "openOnly": 0}
        return [Order.from_api(r) for r in await self._paged("/v5/order/realtime", params, limit=50, max_items=500)]

    async def order_history(self, symbol: str | None = None, *, limit: int = 50, start_ms: int | None = None,
                            end_ms: int | None = None) -> list[Order]:
        """Closed orders, newest first: the last 7 days, or ``[start_ms, end_ms]`` asked 7 days at a time."""
        params: dict[str, object] = {"category": CATEGORY, "symbol": symbol}
        rows = await self._windowed("/v5/order/history", params, start_ms, end_ms, limit=50, max_items=limit)
        return [Order.from_api(r) for r in rows]

    async def _windowed(self, path: str, params: dict[str, object], start_ms: int | None, end_ms: int | None, *,
                        limit: int, max_items: int) -> list[dict[str, object]]:
        """Rows in ``[start_ms, end_ms]`` asked in windows of at most 7 days, newest window first.

        Bybit answers only 7 days per request on these lists (position/close-pnl.mdx, order/execution.mdx,
        order/order-list.mdx): only startTime gives [start, start + 7 days], a wider range is rejected. Neither
        bound asks for Bybit's default (the last 7 days); ``start_ms`` alone is refused, since it would silently
        stop 7 days later.
        """
        if start_ms is None and end_ms is None:
            return await self._paged(path, params, limit=limit, max_items=max_items)
        if start_ms is None or end_ms is None:
            raise ValueError(f"{path}: pass both start_ms and end_ms (Bybit answers only 7 days from one bound)")
        rows: list[dict[str, object]] = []
        hi = end_ms
        while hi >= start_ms and len(rows) < max_items:
            lo = max(start_ms, hi - WEEK_MS)
            rows += await self._paged(path, {**params, "startTime": lo, "endTime": hi}, limit=limit,
                                      max_items=max_items - len(rows))
            hi = lo - 1
        return rows

    async def wait_order(self, symbol: str, *, order_id: str | None = None, order_link_id: str | None = None,
                         wait_s: float = 5.0, poll: float = 0.2) -> Order | None:
        """Poll until the order is final (or ``wait_s`` passes); returns the last state seen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        last = None
        while True:
            last = await self.get_order(symbol, order_id=order_id, order_link_id=order_link_id) or last
            if (last and last.is_final) or loop.time() >= deadline:
                return last
            await self._sleep(poll)

    async def executions(self, symbol: str | None = None, *, order_id: str | None = None,
                         start_ms: int | None = None, end_ms: int | None = None, exec_type: str | None = None,
                         max_items: int = 500) -> list[Execution]:
        """Fills, newest first. Funding fees arrive as execType 'Funding'. A ``start_ms``..``end_ms`` range is asked
        7 days at a time (order/execution.mdx); only ``end_ms`` asks Bybit for the 7 days before it."""
        params: dict[str, object] = {"category": CATEGORY, "symbol": symbol, "orderId": order_id,
                                     "execType": exec_type}
        if start_ms is None and end_ms is not None:
            params["endTime"] = end_ms
        rows = await self._windowed("/v5/execution/list", params, start_ms, None if start_ms is None else end_ms,
                                    limit=100, max_items=max_items)
        return [Execution.from_api(r) for r in rows]

    # ------------------------------------------------------------------ positions and account (private)

    async def positions(self, symbol: str | None = None) -> list[Position]:
        """Open positions only (size > 0): Bybit also returns flat rows when asked by symbol."""
        params = {"category": CATEGORY, "symbol": symbol, "settleCoin": None if symbol else "USDT"}
        rows = await self._paged("/v5/position/list", params, limit=200, max_items=1000)
        return [p for p in (Position.from_api(r) for r in rows) if p.is_open]

    async def set_trading_stop(
        self, *, symbol: str, take_profit: Decimal | None = None, stop_loss: Decimal | None = None,
        trailing_stop: Decimal | None = None, active_price: Decimal | None = None,
        tp_trigger_by: TriggerBy | None = None, sl_trigger_by: TriggerBy | None = None, position_idx: int = 0,
        tpsl_mode: TpslMode = TpslMode.FULL, tp_size: Decimal | None = None, sl_size: Decimal | None = None,
        tp_order_type: OrderType | None = None, sl_order_type: OrderType | None = None,
        tp_limit_price: Decimal | None = None, sl_limit_price: Decimal | None = None,
    ) -> bool:
        """TP/SL/trailing on the position: :meth:`trading_stop` of a :class:`TradingStop` (Full by default: the
        whole position, ``trailing_stop`` a price DISTANCE; Partial adds TP/SL orders of ``tp_size``/``sl_size``,
        Limit ones with ``tp_order_type`` Limit and ``tp_limit_price``). Bad values are refused before sending."""
        return await self.trading_stop(TradingStop.of(
            symbol=symbol, tpsl_mode=tpsl_mode, take_profit=take_profit, stop_loss=stop_loss,
            trailing_stop=trailing_stop, active_price=active_price, tp_trigger_by=tp_trigger_by,
            sl_trigger_by=sl_trigger_by, tp_size=tp_size, sl_size=sl_size, tp_order_type=tp_order_type,
            sl_order_type=sl_order_type, tp_limit_price=tp_limit_price, sl_limit_price=sl_limit_price,
            position_idx=position_idx))

    async def trading_stop(self, stop: TradingStop) -> bool:
        """``POST /v5/position/trading-stop``; False when Bybit says nothing changed (34040), not an error."""
        try:
            await self._call("POST", "/v5/position/trading-stop", stop.body(), private=True)
        except NotModified:
            return False
        return True

    async def leverage(self, symbol: str) -> Decimal | None:
        """The symbol's leverage as the exchange has it (its position row, flat or not); None without a row."""
        rows = await self._paged("/v5/position/list", {"category": CATEGORY, "symbol": symbol}, limit=200,
                                 max_items=200)
        levs = [p.leverage for p in (Position.from_api(r) for r in rows) if p.leverage > 0]
        return levs[0] if levs else None

    async def set_leverage(self, symbol: str, leverage: Decimal) -> bool:
        """Set buy and sell leverage (one-way mode); False when already set (110043)."""
        lev = _wire(leverage)
        try:
            await self._call("POST", "/v5/position/set-leverage", {
                "category": CATEGORY, "symbol": symbol, "buyLeverage": lev, "sellLeverage": lev}, private=True)
        except NotModified:
            return False
        return True

    async def closed_pnl(self, symbol: str | None = None, *, start_ms: int | None = None,
                         end_ms: int | None = None, max_items: int = 200) -> list[ClosedPnl]:
        """Closed-position records, newest first. closedPnl is net of the open fee, the close fee and the funding
        paid while holding. A ``start_ms``..``end_ms`` range is asked 7 days at a time (position/close-pnl.mdx)."""
        params: dict[str, object] = {"category": CATEGORY, "symbol": symbol}
        rows = await self._windowed("/v5/position/closed-pnl", params, start_ms, end_ms, limit=100,
                                    max_items=max_items)
        return [ClosedPnl.from_api(r) for r in rows]

    async def position_idxs(self, symbol: str) -> set[int]:
        """The positionIdx values of ``symbol``'s position rows, open or flat (position/position.mdx): {0} in
        one-way mode, {1, 2} in hedge mode (Buy side and Sell side)."""
        rows = await self._paged("/v5/position/list", {"category": CATEGORY, "symbol": symbol}, limit=200,
                                 max_items=10)
        return {Position.from_api(r).position_idx for r in rows}

    async def account_info(self) -> AccountInfo:
        """Account status and margin mode (account/account-info.mdx)."""
        return AccountInfo.from_api(await self._call("GET", "/v5/account/info", {}, private=True))

    async def fee_rates(self, symbol: str | None = None) -> dict[str, FeeRate]:
        """This account's taker/maker rates per symbol (account/fee-rate.mdx)."""
        res = await self._call("GET", "/v5/account/fee-rate", {"category": CATEGORY, "symbol": symbol}, private=True)
        rates = (FeeRate.from_api(r) for r in res.get("list") or [])
        return {r.symbol: r for r in rates}

    async def wallet(self, coin: str = "USDT") -> Wallet:
        """UNIFIED wallet balance (Bybit removed CONTRACT from wallet-balance in late 2025)."""
        res = await self._call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED", "coin": coin},
                               private=True)
        return Wallet.from_api(res, coin)
