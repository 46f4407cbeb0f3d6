"""Typed, Decimal-valued WebSocket stream events, and the ticker/order-book snapshot+delta merge."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradebot.bybit.account_models import Execution, Position, Wallet
from tradebot.bybit.account_models import Order as OrderRow
from tradebot.bybit.market_models import Kline, OrderBook, Ticker
from tradebot.bybit.parse import field, ms, req_dec
from tradebot.errors import ExchangeError

PRIVATE_TOPICS = ("order", "execution", "position", "wallet")


@dataclass(frozen=True, slots=True)
class Orders:
    """``order`` topic: order rows (the REST model), linear only."""

    rows: tuple[OrderRow, ...]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Executions:
    """``execution`` topic: fills and funding settlements (the REST model), linear only."""

    rows: tuple[Execution, ...]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Positions:
    """``position`` topic: position rows (the REST model), linear only."""

    rows: tuple[Position, ...]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class WalletUpdate:
    """``wallet`` topic: the unified account balance (the REST model)."""

    wallet: Wallet
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Candle:
    """``kline.{interval}.{symbol}``: one candle; ``confirm`` is True once it has closed."""

    symbol: str
    interval: str
    kline: Kline
    end_ms: int
    confirm: bool
    ts_ms: int


@dataclass(frozen=True, slots=True)
class TickerUpdate:
    """``tickers.{symbol}``: the ticker after merging this snapshot/delta into the last one."""

    ticker: Ticker
    ts_ms: int


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """``orderbook.{depth}.{symbol}``: the local book after applying this snapshot/delta."""

    book: OrderBook
    update_id: int
    seq: int
    ts_ms: int


StreamEvent = Orders | Executions | Positions | WalletUpdate | Candle | TickerUpdate | BookUpdate


class BookGap(ExchangeError):
    """A delta that cannot be applied (an order-book update id gap, a ticker delta before its snapshot): the topic must
    be resubscribed."""

    def __init__(self, topic: str, detail: str) -> None:
        super().__init__(f"{topic}: {detail}")
        self.topic = topic


def _linear(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise ExchangeError(f"stream data is not a list: {rows!r}"[:200])
    return [r for r in rows if isinstance(r, dict) and r.get("category", "linear") == "linear"]


def parse_private(msg: dict[str, Any]) -> StreamEvent | None:
    """A private topic message → its typed event (None for a topic we do not use)."""
    topic = str(msg.get("topic", "")).split(".")[0]
    ts = ms(msg.get("creationTime"))
    data = msg.get("data")
    if topic == "order":
        return Orders(tuple(OrderRow.from_api(r) for r in _linear(data)), ts)
    if topic == "execution":
        return Executions(tuple(Execution.from_api(r) for r in _linear(data)), ts)
    if topic == "position":
        return Positions(tuple(Position.from_api(r) for r in _linear(data)), ts)
    if topic == "wallet":
        return WalletUpdate(Wallet.from_api({"list": data}), ts)
    return None


def parse_kline(msg: dict[str, Any]) -> list[Candle]:
    """``kline.{interval}.{symbol}`` → candles (``confirm`` True for a closed one)."""
    _, interval, symbol = str(msg["topic"]).split(".", 2)
    out = []
    for r in msg.get("data") or []:
        k = Kline(ms(field(r, "start")), req_dec(r.get("open"), "open"), req_dec(r.get("high"), "high"),
                  req_dec(r.get("low"), "low"), req_dec(r.get("close"), "close"),
                  req_dec(r.get("volume"), "volume"), req_dec(r.get("turnover") or "0", "turnover"))
        out.append(Candle(symbol, interval, k, ms(r.get("end")), r.get("confirm") is True, ms(msg.get("ts"))))
    return out


class TickerBook:
    """Linear tickers arrive as one snapshot then deltas holding only the changed fields: keep the merge."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.asked: set[str] = set()  # symbols resubscribed for a snapshot, not here yet

    def apply(self, msg: dict[str, Any]) -> TickerUpdate | None:
        """The merged ticker. A delta before any snapshot (the snapshot was lost) raises :class:`BookGap` once, so
        the topic is resubscribed and Bybit sends a new snapshot; until it comes, deltas are skipped. Without it no
        ticker would come until the next reconnect, with the stream looking healthy."""
        data = msg.get("data")
        if not isinstance(data, dict):
            raise ExchangeError("ticker data is not an object")
        sym = field(data, "symbol")
        if msg.get("type") == "snapshot" or sym not in self.rows:
            if msg.get("type") != "snapshot":
                if sym in self.asked:
                    return None  # resubscribed already: its snapshot is on the way
                self.asked.add(sym)
                raise BookGap(str(msg.get("topic") or f"tickers.{sym}"), "ticker delta before any snapshot")
            self.asked.discard(sym)
            self.rows[sym] = dict(data)
        else:
            self.rows[sym].update(data)
        return TickerUpdate(Ticker.from_api(self.rows[sym]), ms(msg.get("ts")))

    def clear(self) -> None:
        self.rows.clear()
        self.asked.clear()


class LocalBook:
    """One ``orderbook.{depth}.{symbol}`` topic: snapshot, then deltas checked against the update id ``u``.

    Rules from websocket/public/orderbook.mdx: a snapshot resets the book (``u`` = 1 also means the service
    restarted); a delta sets a level, and size 0 deletes it; a level-1 snapshot may repeat the same ``u``.
    A delta whose ``u`` is not the last ``u`` + 1 (or that arrives before any snapshot) is a gap.
    """

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.depth = int(topic.split(".")[1])
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.update_id: int | None = None
        self.symbol = topic.split(".", 2)[2]

    def apply(self, msg: dict[str, Any]) -> BookUpdate | None:
        data = msg.get("data")
        if not isinstance(data, dict):
            raise ExchangeError("orderbook data is not an object")
        u = int(field(data, "u"))
        if msg.get("type") == "snapshot":
            self.bids, self.asks = self._levels(data.get("b")), self._levels(data.get("a"))
        else:
            if self.update_id is None:
                raise BookGap(self.topic, f"delta u={u} before any snapshot")
            if u <= self.update_id:
                return None  # stale or repeated delta: already applied
            if u != self.update_id + 1:
                raise BookGap(self.topic, f"update id jumped from {self.update_id} to {u}")
            for side, rows in ((self.bids, data.get("b")), (self.asks, data.get("a"))):
                for price, size in self._levels(rows).items():
                    if size == 0:
                        side.pop(price, None)
                    else:
                        side[price] = size
        self.update_id = u
        return BookUpdate(self.snapshot(ms(msg.get("ts"))), u, int(data.get("seq") or 0), ms(msg.get("ts")))

    @staticmethod
    def _levels(rows: Any) -> dict[Decimal, Decimal]:
        return {req_dec(p, "book price"): req_dec(s, "book size") for p, s, *_ in rows or []}

    def snapshot(self, ts: int) -> OrderBook:
        bids = tuple(sorted(self.bids.items(), reverse=True)[: self.depth])
        asks = tuple(sorted(self.asks.items())[: self.depth])
        return OrderBook(self.symbol, bids, asks, ts)
