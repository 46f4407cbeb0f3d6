"""Stream publisher: turns the matching engine's state changes into Bybit WebSocket messages (private + public).

It observes the exchange instead of being called from inside it: :meth:`Publisher.flush` runs after every
state-changing request and every price point, diffs what changed since the last flush (new executions,
orders whose status/fills moved, positions, the wallet balance) and publishes each change once, built from
the same wire rows REST answers with. Per change the order is ``order`` → ``execution`` → ``position`` →
``wallet``, as one fill is reported by Bybit. Public topics (``kline``, ``tickers``, ``orderbook``) are built
only for topics somebody subscribed to.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradebot.market_model.book import book_levels
from tradebot.market_model.instruments import INSTRUMENTS
from tradebot.money import ZERO
from tradebot.side import Side

from .host import SimHost, Sink
from .models import fmt
from .params import Params

BOOK_DEPTHS = (1, 50, 200, 1000)


def _position_row(row: dict[str, Any]) -> dict[str, Any]:
    """REST position row → WebSocket shape (websocket/private/position.mdx names ``entryPrice``)."""
    out = {"category": "linear", **row}
    out["entryPrice"] = out.pop("avgPrice")
    return out


class Publisher:
    """Diffs the simulator's state at each flush and hands Bybit-shaped messages to the sinks."""

    def __init__(self, sim: SimHost) -> None:
        self.sim = sim
        self.sinks: list[Sink] = []
        self.wanted: Callable[[str], bool] = lambda topic: False  # public topics with subscribers
        self._ids = itertools.count(1)
        self._sync()
        self._tickers: dict[str, dict[str, Any]] = {}
        self._books: dict[str, tuple[int, dict[str, dict[str, str]]]] = {}  # topic → (u, {"b": {px: qty}, "a": ...})
        self._kline_start: dict[str, int] = {}

    # -- private -----------------------------------------------------------------------------------
    def _sync(self) -> None:
        ex = self.sim.exchange
        self._n_exec, self._n_closed, self._n_orders = len(ex.executions), len(ex.closed), len(ex.orders)
        self._open = {o.order_id: self._order_sig(o) for o in ex.open_orders()}
        self._pos = {s: self._pos_sig(s) for s in ex.positions}
        self._wallet = self._wallet_sig()

    @staticmethod
    def _order_sig(o: Any) -> tuple[Any, ...]:
        return (o.status, o.cum_qty, o.price, o.qty, o.take_profit, o.stop_loss, o.trigger_price, o.updated)

    def _pos_sig(self, symbol: str) -> tuple[Any, ...]:
        p = self.sim.exchange.positions[symbol]
        return (p.side, p.size, p.avg_price, p.take_profit, p.stop_loss, p.trailing_stop, p.leverage,
                p.seq, p.trail_level, p.cum_realised)

    def _wallet_sig(self) -> tuple[Decimal, ...]:
        ex = self.sim.exchange
        return (ex.wallet, ex.position_im(), ex.order_im())

    def _send(self, topic: str, msg: dict[str, Any]) -> None:
        for sink in list(self.sinks):
            sink(topic, msg)

    def _private(self, topic: str, rows: list[dict[str, Any]]) -> None:
        n = next(self._ids)
        self._send(topic, {"id": f"{n}_{topic}_{self.sim.exchange.seq}", "topic": topic,
                           "creationTime": self.sim.wall_ms(), "data": rows})

    def flush(self, moved: bool = False, closed: bool = False) -> None:
        """Publish what changed since the last flush (``moved``: prices moved; ``closed``: candles closed)."""
        if not self.sinks:
            self._sync()
            return
        ex = self.sim.exchange
        new_orders = list(itertools.islice(reversed(ex.orders.values()), max(0, len(ex.orders) - self._n_orders)))
        changed = list(reversed(new_orders))
        fresh = {o.order_id for o in changed}
        changed += [o for oid, sig in self._open.items()
                    if oid not in fresh and (o := ex.orders.get(oid)) is not None and self._order_sig(o) != sig]
        changed.sort(key=lambda o: (o.updated, o.seq))
        executions = ex.executions[self._n_exec:]
        pnl: dict[str, Decimal] = {}
        for c in ex.closed[self._n_closed:]:
            pnl[c.order_id] = pnl.get(c.order_id, ZERO) + c.closed_pnl
        positions = [s for s in ex.positions if self._pos_sig(s) != self._pos[s]]
        wallet = self._wallet_sig() != self._wallet
        self._sync()
        if changed:
            self._private("order", [{"category": "linear", **o.wire(), "closedPnl": fmt(pnl.get(o.order_id, ZERO)),
                                     "feeCurrency": "", "slippageToleranceType": "UNKNOWN",
                                     "slippageTolerance": "0"} for o in changed])
        if executions:
            self._private("execution", [{"category": "linear", **e.wire(), "isLeverage": "0", "marketUnit": ""}
                                        for e in executions])
        if positions:
            self._private("position", [_position_row(ex.positions[s].wire(ex.last[s])) for s in positions])
        if wallet or executions:
            from .account import wallet_row

            self._private("wallet", [wallet_row(self.sim)])
        if moved or closed:
            self._market(closed)

    # -- public ------------------------------------------------------------------------------------
    def _market(self, closed: bool) -> None:
        for s in self.sim.symbols:
            for iv in ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M"):
                topic = f"kline.{iv}.{s}"
                if self.wanted(topic):
                    for msg in self.kline_messages(s, iv, closed):
                        self._send(topic, msg)
            topic = f"tickers.{s}"
            if self.wanted(topic):
                ticker = self.ticker_message(s, delta=True)
                if ticker is not None:
                    self._send(topic, ticker)
            for depth in BOOK_DEPTHS:
                topic = f"orderbook.{depth}.{s}"
                if self.wanted(topic):
                    book = self.book_message(s, depth, delta=depth != 1)
                    if book is not None:
                        self._send(topic, book)

    def kline_messages(self, symbol: str, interval: str, closed: bool = False) -> list[dict[str, Any]]:
        """The forming candle (``confirm: false``), preceded by the one that just closed (``confirm: true``)."""
        feed = self.sim.feeds[symbol]
        rows = feed.klines(interval, None, None, 2)
        topic = f"kline.{interval}.{symbol}"
        prev = self._kline_start.get(topic)
        start = int(rows[0][0])
        self._kline_start[topic] = start
        out = []
        if prev is not None and start != prev and len(rows) > 1:
            out.append(self._kline(topic, interval, rows[1], True))
        out.append(self._kline(topic, interval, rows[0], False))
        return out

    def _kline(self, topic: str, interval: str, row: list[str], confirm: bool) -> dict[str, Any]:
        from tradebot.market_model.feed import DAY_MS, MINUTE_INTERVALS

        start = int(row[0])
        span = MINUTE_INTERVALS[interval] * 60_000 if interval in MINUTE_INTERVALS else (
            {"D": DAY_MS, "W": 7 * DAY_MS}.get(interval, 31 * DAY_MS))
        now = self.sim.wall_ms()
        return {"topic": topic, "data": [{
            "start": start, "end": start + span - 1, "interval": interval, "open": row[1], "close": row[4],
            "high": row[2], "low": row[3], "volume": row[5], "turnover": row[6], "confirm": confirm,
            "timestamp": self.sim.market_time()}], "ts": now, "type": "snapshot"}

    def ticker_message(self, symbol: str, delta: bool) -> dict[str, Any] | None:
        """A full snapshot, or a delta holding only the fields that changed (None: nothing changed)."""
        from .handlers import tickers

        row = tickers(self.sim, Params({"category": "linear", "symbol": symbol}))["list"][0]
        last = self._tickers.get(symbol)
        row = {"symbol": symbol, "tickDirection": self._tick_direction(row["lastPrice"], last), **row}
        self._tickers[symbol] = row
        if delta and last is not None:
            data = {k: v for k, v in row.items() if last.get(k) != v}
            if not data:
                return None
            data = {"symbol": symbol, **data}
            kind = "delta"
        else:
            data, kind = row, "snapshot"
        return {"topic": f"tickers.{symbol}", "type": kind, "data": data, "cs": self.sim.exchange.seq,
                "ts": self.sim.wall_ms()}

    @staticmethod
    def _tick_direction(price: str, last: dict[str, Any] | None) -> str:
        """PlusTick / MinusTick, or ZeroPlusTick / ZeroMinusTick when unchanged (keeping the last direction)."""
        if last is None:
            return "ZeroPlusTick"
        before, prev_dir = Decimal(last["lastPrice"]), str(last.get("tickDirection", "ZeroPlusTick"))
        if Decimal(price) > before:
            return "PlusTick"
        if Decimal(price) < before:
            return "MinusTick"
        return "ZeroPlusTick" if "Plus" in prev_dir else "ZeroMinusTick"

    def book_message(self, symbol: str, depth: int, delta: bool) -> dict[str, Any] | None:
        """Snapshot or delta (size "0" deletes a level) with the topic's update id ``u`` + 1."""
        ins, last = INSTRUMENTS[symbol], self.sim.feeds[symbol].last
        levels = {k: {fmt(p): fmt(q) for p, q in book_levels(side, last, ins.tick_size, self.sim.book, depth)}
                  for k, side in (("b", Side.SELL), ("a", Side.BUY))}
        topic = f"orderbook.{depth}.{symbol}"
        u, before = self._books.get(topic, (0, None))
        if delta and before is not None:
            diff = {k: {p: q for p, q in levels[k].items() if before[k].get(p) != q} |
                    {p: "0" for p in before[k] if p not in levels[k]} for k in ("b", "a")}
            if not diff["b"] and not diff["a"]:
                return None
            kind, body = "delta", diff
        else:
            kind, body = "snapshot", levels
        u += 1
        self._books[topic] = (u, levels)
        def side(k: str) -> list[list[str]]:  # bids price descending, asks ascending
            rows = sorted(body[k].items(), key=lambda kv: Decimal(kv[0]), reverse=k == "b")
            return [[p, q] for p, q in rows]

        now = self.sim.wall_ms()
        return {"topic": topic, "type": kind, "ts": now, "data": {"s": symbol, "b": side("b"), "a": side("a"),
                                                                   "u": u, "seq": self.sim.exchange.seq},
                "cts": self.sim.market_time()}

    def snapshot(self, topic: str) -> list[dict[str, Any]]:
        """What a new subscriber of a public topic gets at once (empty for unknown topics)."""
        parts = topic.split(".")
        if parts[0] == "tickers" and len(parts) == 2:
            msg = self.ticker_message(parts[1], delta=False)
            return [msg] if msg else []
        if parts[0] == "orderbook" and len(parts) == 3:
            u, levels = self._books.get(topic, (0, None))
            if levels is not None:  # keep u continuous for the other subscribers: resend the same state
                self._books[topic] = (u - 1, levels)
            msg = self.book_message(parts[2], int(parts[1]), delta=False)
            return [msg] if msg else []
        if parts[0] == "kline" and len(parts) == 3:
            rows = self.sim.feeds[parts[2]].klines(parts[1], None, None, 1)
            self._kline_start.setdefault(topic, int(rows[0][0]))
            return [self._kline(topic, parts[1], rows[0], False)]
        return []
