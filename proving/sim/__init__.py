"""Bybit v5 (linear USDT perpetual) exchange simulator: a faithful REST stand-in for paper, demo and tests.

Any standard Bybit v5 client works against it unchanged except for the base URL.

Facade
------
``Simulator(symbols=["BTCUSDT"], price=None, balance=Decimal("10000"), candles=None, seed=0,
api_key="sim-key", api_secret="sim-secret", fees=Fees(), rate_limits=True, state_file=None,
book=BookParams(), leverage=10, warmup=0, start_ms=None, funding_rate=0)``

- ``candles``: ``{symbol: csv path | DataFrame | rows}`` (timestamp_ms,open,high,low,close,volume) to replay;
  symbols without candles follow a seeded random walk (5m candles, 1000 back-filled history candles) around
  ``price`` (a Decimal for the first symbol or a ``{symbol: price}`` dict; default: a built-in price).
- ``warmup``: replay candles already closed at start (history for indicators).
- ``.transport()`` / ``.sync_transport()``: in-process ``httpx`` transports (no sockets).
- ``.serve(host="127.0.0.1", port=0)`` -> handle with ``.url``, ``.port``, ``.close()`` (HTTP/1.1 keep-alive).
- ``.step(n=1) -> int`` candles stepped (0 when the replay is exhausted); ``.set_price(symbol, price, gap=False)``
  (``gap``: the price jumps, a stop it crosses fills at the new price); ``.lag_closed_pnl()`` /
  ``.release_closed_pnl()``: closed-pnl rows created in between are not listed until released (Bybit writes them
  a moment after the fill and the position message); ``.advance_ms(ms)``: market time passes at the current
  path point without a price move (capped before the next point), so actions in between get distinct times;
  ``.state() -> dict``; ``.faults.configure(**cfg)`` / ``.faults.clear()``; ``.exchange`` (the engine).

WebSocket streams (second port; the HTTP server stays a plain ``http.server``)
--------------------------------------------------------------------------
``.serve_streams(host="127.0.0.1", port=0, idle_seconds=None)`` -> handle with ``.url`` (``ws://HOST:PORT``),
``.port``, ``.close()``: Bybit's ``/v5/private`` (auth ``[key, expires, HMAC("GET/realtime"+expires)]``; a bad,
expired or unknown key gets ``success: false, ret_msg "Params Error"``; subscribing before auth gets
"Request not authorized") and ``/v5/public/linear``. Subscribe/unsubscribe acks, ping/pong in the public and
private shapes, ``max_active_time`` on the private URL, and idle clients (no ping and no data for 10 minutes,
or ``idle_seconds``) are cut off. ``GET /sim/ws`` tells clients the WebSocket URL (404 when none runs);
``python -m tradebot.sim`` serves it on ``--ws-port`` (default ``--port`` + 1) and prints
``websocket on ws://HOST:PORT`` after ``listening on ...``.

Private topics ``order``, ``execution``, ``position``, ``wallet``: :class:`~proving.sim.publish.Publisher`
diffs the engine after every private request, every price point, candle close and funding, and publishes each
change (order accepted/filled/cancelled, TP/SL/trailing fills, trailing moves, funding, anything the engine
adds later) from the same wire rows REST returns, in the order order → execution → position → wallet.
Public topics: ``kline.{interval}.{symbol}`` (the forming candle at every price point; the closed one with
``confirm: true`` at each close), ``tickers.{symbol}`` (snapshot on subscribe, then deltas of the changed
fields), ``orderbook.{1|50|200|1000}.{symbol}`` (snapshot, then deltas with ``u`` + 1; level 1 snapshots only).
Stream faults (``.stream_faults.configure(...)`` or ``POST /sim/stream-faults``, ``{}`` clears): drop_prob,
lose_prob, delay_ms, delay_prob, refuse_auth, down (503 at the handshake and open connections cut), next_n
{drop, lose, refuse_auth}, paths, topics, seed.

Stepping (the backtest must match): the forming candle k has reached its open. ``step()`` walks the rest of
its :func:`candle_path` (bullish/flat open→low→high→close, bearish open→high→low→close), closes it, then
jumps to candle k+1's open (a gap segment: stops crossed by it fill at the gapped open). Market orders fill
at the last price walked through :func:`market_fill_price`. All business timestamps use the market clock
(the time of the current path point: open, +1/3, +2/3, end-1ms of the candle); auth and the envelope
``time`` use the wall clock.

Control API (JSON, no auth, never subject to faults): ``POST /sim/price {"symbol","price"[,"gap"]}``,
``POST /sim/step {"n"}``, ``GET /sim/state``, ``POST /sim/faults {...}`` (``{}`` clears). Fault keys:
latency_ms, latency_prob (0 = always when latency_ms set), http5xx_prob, rate_limit_prob, drop_prob,
lost_response_prob, next_n {kind: N} (kinds http5xx, rate_limit, drop, lost_response), paths [...], seed,
lost_sleep_s, closed_pnl_lag_ms (a closed-pnl row booked while it is set is listed that many wall ms after its fill, or when cleared). Faults apply to every /v5 path (including /v5/market/time) unless ``paths`` narrows them;
latency sleeps after executing, before answering. 5xx / 10006 / drop are not executed; lost_response is executed and then the connection is
dropped (HTTP server; after sleeping lost_sleep_s if set) or ``httpx.ReadTimeout`` is raised (in-process).

Rate limits: per API key, per endpoint, rolling 1 s (Bybit's default table; unlisted private endpoints 10/s);
public market endpoints are not limited; ``rate_limits=False`` disables enforcement (headers still sent).

Book (market/orderbook.mdx, market/tickers.mdx): a synthetic book around the last price (:class:`BookParams`):
best bid = last - 1 tick < best ask = last + 1 tick by default, depth growing per level; tickers bid1/ask1 are
the book's first levels. Market orders walk exactly these levels (:func:`market_fill_price`, shared with the
backtest); a limit order at or through the best opposite price (also after an amend) fills at once as taker
(capped at its price). ``BookParams.zero()`` (tests pinning exact prices) fills everything at the last price.

Maker execution (order/create-order.mdx, amend-order.mdx, enum.mdx, order/execution.mdx, account/fee-rate.mdx):
a PostOnly limit that would take, at create or after an amend, is acknowledged (retCode 0, ids) and Cancelled with
rejectReason ``EC_PostOnlyWillTakeLiquidity``, cancelType UNKNOWN, nothing executed (order-list.mdx's example);
the streams publish that one order row. A resting limit fills at its price as maker by the rule
``resting-limit`` (:mod:`proving.sim.resting`, a modelling choice): traded through by a tick or more, all of it;
a touch (the last price arriving at exactly its price), ``BookParams.touch_share`` of one book level's size there
(``level_notional / price``, floored to the qty step), the rest resting as PartiallyFilled (cumExecQty,
leavesQty); one execution per fill. Cancelling the rest leaves the order Cancelled with its fills (enum.mdx:
PartiallyFilledCanceled is spot-only); an amend down to the filled qty fills it. Every fill is charged the
fee-rate endpoint's makerFeeRate or takerFeeRate and says which (``isMaker``, ``feeRate``). An active reduce-only
order left with nothing to reduce (position closed or flipped) is Cancelled with ``CancelByReduceOnly``
(``reduce-only-cancel``).

Partial TP/SL (create-order.mdx, trading-stop.mdx; :mod:`proving.sim.partial`): ``tpslMode=Partial`` with
``takeProfit``/``stopLoss`` on an entry, ``tpOrderType``/``slOrderType`` Market or Limit with
``tpLimitPrice``/``slLimitPrice`` (Limit needs Partial and its price); trading-stop with ``tpslMode=Partial`` adds
them with ``tpSize``/``slSize`` (equal; at most 20 of a kind: 110061). Each is a system order (stopOrderType
PartialTakeProfit/PartialStopLoss, createType CreateByPartial…, tpslMode Partial, Untriggered, reduce-only, Limit
at its limit price or Market). An entry's are created by its first opening fill and grow with its later fills
(``partial-tpsl-size``); refusals rather than guesses for missing prices/sizes (``partial-tpsl-params``). A TP and
SL created together are bound: the trigger of one Deactivates the other (``partial-tpsl-oco``). Triggered, a Market
one fills as taker; a Limit one becomes an active limit (New, same orderId, qty capped at the position) filled by
the resting-limit rule as maker, or at once as taker if marketable (``partial-tpsl-trigger``). The position row
keeps tpslMode "Full" and shows the Full-mode TP/SL only (``partial-tpsl-position``). A closed or flipped position
Deactivates the untriggered ones (CancelByTpSlTsClear) and cancels a resting triggered one (CancelByReduceOnly).

Position TP/SL/trailing (position/trading-stop.mdx, order/open-order.mdx): Full-mode stops set at order create
or via trading-stop are system conditional orders: ``orderStatus`` Untriggered, ``stopOrderType``
TakeProfit/StopLoss/TrailingStop, ``createType`` CreateBy…, ``orderType`` Market, reduceOnly + closeOnTrigger,
``qty`` = the position size (trading-stop.mdx: the system adjusts it to the position), ``triggerPrice``,
``triggerBy``, ``triggerDirection`` (1 rise, 2 fall), ``parentOrderLinkId`` = the entry's link id when attached at create. Moving a stop amends the same order; a
TrailingStop's triggerPrice is its activePrice until it activates, then the current trailing level. On trigger
the order itself goes Triggered → Filled; the others are Deactivated with ``CancelByTpSlTsClear`` when the
position clears; removing a stop (``0``) or cancelling its order by orderId Deactivates it (``CancelByUser``)
and clears that stop. ``orderFilter``: Order = active orders, StopOrder = these conditional orders;
``openOnly`` 0 = open (New, PartiallyFilled, Untriggered), 1 = the 500 most recent closed orders.
``/v5/order/cancel-all`` (order/cancel-all.mdx): symbol > baseCoin > settleCoin; orderFilter Order/OpenOrder
(active), StopOrder (conditional), none = every kind incl. TP/SL/trailing (which clears them on the position).

Mark price and margin (position/position.mdx, account/wallet-balance.mdx, market/risk-limit.mdx): the mark
price is its own series: the mean of the last price at the last 4 path points (a candle's open, two extremes
and close, or each ``set_price``), rounded to the tick, so it lags the last price; the index price equals it
(no basis). Unrealised PnL, positionIM/MM, equity and available balance use the mark price; MM = size × mark ×
0.5 % (risk tier 1). ``tpTriggerBy``/``slTriggerBy`` MarkPrice or IndexPrice fire when the mark reaches the
level (checked at each path point, after the last-price events) and fill at market from the last price.
``breakEvenPrice`` follows position.mdx's formula. ``liqPrice`` (UNIFIED, cross margin, one-way) is the mark
price at which equity = maintenance margin with the wallet and other positions held fixed (rounded one tick
towards the position; "" when ≤ minPrice or ≥ maxPrice). When a position's mark reaches its liqPrice it is
taken over: open active orders are Cancelled (``CancelAllBeforeLiq``), the position closes at the bankruptcy
price (equity → 0 after the taker fee) by an order created ``CreateByTakeOver_PassThrough``, with an
execution and a closed-pnl row of ``execType`` BustTrade (enum.mdx, position/close-pnl.mdx).

Other categories (proving/sim/categories.py): the account holds nothing in ``spot``, ``inverse`` or ``option``, so
position, order, execution, closed-pnl, fee-rate, instruments-info, tickers and cancel-all requests in a category
their docs page allows answer an empty ``list`` in the page's shape (the page's per-category required parameters
and the 7-day window still apply); a category the page does not list is 10001 ``Illegal category``.

Not simulated (answered with retCode 10001 and a "not simulated"/Bybit message, never silently): hedge mode
(positionIdx 1/2, switch-mode mode=3), conditional (triggerPrice) orders, amending a TP/SL/trailing system order
(Full or Partial; use trading-stop, or cancel a Partial one) or an order's trigger/TP/SL fields (only qty and
price amend), queue position at a price level (the touch rule above stands for it), spot order filters (tpslOrder, OcoOrder, BidirectionalTpslOrder), /v5/market/mark-price-kline
and index-price-kline (no mark/index candle history), kline intervals finer than the feed's base candles.
Simplified, as documented here: liquidation goes straight
to the takeover (no laddered CreateByLiq partial liquidation), no auto-deleveraging (AdlTrade: no
counterparties), no insurance fund, risk-limit tier 1 only, cross margin only (no isolated or portfolio
margin).

Funding (market/history-fund-rate.mdx, enum.mdx#exectype) is off unless ``funding_rate`` is set; then it settles
at every 00:00/08:00/16:00 UTC of market time crossed as an execType ``Funding`` execution and is included in the
closedPnl of the close that follows, like Bybit's Closed P&L.

Account: ``/v5/account/info`` answers a UTA 2.0 in cross margin (``REGULAR_MARGIN``); ``sim.account_settings``
(a dict) overrides its fields to test the bot's account checks, but isolated and portfolio margin themselves are
not simulated. ``/v5/account/fee-rate`` answers the ``fees`` the engine charges.

History lists (closed-pnl, execution, order history) apply Bybit's 7-day window (neither bound: the last 7 days;
only startTime/endTime: 7 days from it; both: at most 7 days apart, else 10001) and page with cursors keyed on the
row, so rows arriving between page requests never move a row onto two pages. Order history keeps unfilled
Cancelled/Rejected/Deactivated orders 24 hours and, beyond 7 days, only orders with fills.

Auth: missing key/sign/timestamp headers or unknown key -> retCode 10003 (HTTP 200); bad signature -> 10004;
timestamp outside ``[server - recv_window, server + 1000)`` -> 10002. Unknown path -> HTTP 404.

Persistence: with ``state_file`` the wallet, positions, orders, executions, closed pnl, leverage and feed
cursor are written (atomically) after every mutating request, every step/price move and on close, and
restored at start.

Conformance: every answer matches the response example on its Bybit docs page (fields, JSON types, ``""`` vs
``"0"``); the differences that remain are written, with reasons, in :mod:`proving.sim.conformance`
(``NOT_SIMULATED``, ``EXTRA``, ``VALUES``) and checked by ``tests/sim/test_conformance.py``.
"""

from tradebot.market_model.book import BookParams, market_fill_price
from tradebot.market_model.feed import candle_path

from .core import Simulator
from .exchange import Exchange, Fees, SimRejection

__all__ = ["BookParams", "Exchange", "SimRejection", "Fees", "Simulator", "candle_path", "market_fill_price"]
