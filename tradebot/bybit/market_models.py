"""Typed Bybit v5 public market data: frozen dataclasses with Decimal prices, parsed from the wire's strings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradebot.bybit.parse import dec, field, ms, req_dec
from tradebot.errors import ExchangeError
from tradebot.money import ZERO
from tradebot.sizing.instruments import Instrument


@dataclass(frozen=True)
class FundingRate:
    """One settled funding rate (/v5/market/funding/history): positive = longs pay shorts."""

    symbol: str
    rate: Decimal
    time_ms: int  # fundingRateTimestamp: the settlement time

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> FundingRate:
        return cls(str(row.get("symbol", "")), req_dec(row.get("fundingRate"), "fundingRate"),
                   ms(row.get("fundingRateTimestamp")))


@dataclass(frozen=True, slots=True)
class Kline:
    start_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    turnover: Decimal

    @classmethod
    def from_api(cls, row: list[str]) -> Kline:
        if len(row) < 6:
            raise ExchangeError(f"malformed kline row from Bybit: {row!r}")
        o, h, low, c, v = (req_dec(x, "kline") for x in row[1:6])
        turnover = dec(row[6]) if len(row) > 6 else ZERO
        return cls(ms(row[0]), o, h, low, c, v, turnover or ZERO)

    def as_row(self) -> tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]:
        return (self.start_ms, self.open, self.high, self.low, self.close, self.volume)


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    last_price: Decimal
    mark_price: Decimal
    index_price: Decimal
    bid1: Decimal | None
    ask1: Decimal | None
    funding_rate: Decimal | None
    volume_24h: Decimal

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> Ticker:
        return cls(
            symbol=field(row, "symbol"),
            last_price=req_dec(field(row, "lastPrice"), "lastPrice"),
            mark_price=dec(row.get("markPrice")) or req_dec(row["lastPrice"], "lastPrice"),
            index_price=dec(row.get("indexPrice")) or ZERO,
            bid1=dec(row.get("bid1Price"), None),
            ask1=dec(row.get("ask1Price"), None),
            funding_rate=dec(row.get("fundingRate"), None),
            volume_24h=dec(row.get("volume24h")) or ZERO,
        )


@dataclass(frozen=True, slots=True)
class OrderBook:
    symbol: str
    bids: tuple[tuple[Decimal, Decimal], ...]  # price descending
    asks: tuple[tuple[Decimal, Decimal], ...]  # price ascending
    ts_ms: int

    @classmethod
    def from_api(cls, res: dict[str, Any]) -> OrderBook:
        def side(levels: list[list[str]]) -> tuple[tuple[Decimal, Decimal], ...]:
            return tuple((req_dec(p, "book price"), req_dec(s, "book size")) for p, s, *_ in levels)

        return cls(field(res, "s"), side(field(res, "b")), side(field(res, "a")), ms(res.get("ts")))


def instrument_from_api(row: dict[str, Any]) -> Instrument:
    """instruments-info row → Instrument rules (tickSize, qtyStep, min/max qty, min notional, leverage)."""
    price = field(row, "priceFilter")
    lot = field(row, "lotSizeFilter")
    lev = row.get("leverageFilter") or {}
    max_qty = req_dec(lot.get("maxOrderQty"), "maxOrderQty")
    return Instrument(
        symbol=field(row, "symbol"),
        tick_size=req_dec(price.get("tickSize"), "tickSize"),
        qty_step=req_dec(lot.get("qtyStep"), "qtyStep"),
        min_qty=req_dec(lot.get("minOrderQty"), "minOrderQty"),
        max_qty=max_qty,
        max_mkt_qty=dec(lot.get("maxMktOrderQty"), None) or max_qty,
        min_notional=dec(lot.get("minNotionalValue")) or ZERO,
        max_leverage=dec(lev.get("maxLeverage"), None) or Decimal(100),
        min_leverage=dec(lev.get("minLeverage"), None) or Decimal(1),
        leverage_step=dec(lev.get("leverageStep"), None) or Decimal("0.01"),
    )
