"""The ``[execution]`` settings: how an entry is sent (a market order, or maker first) and the pure rules that
go with them (the limit price at the touch, the re-price schedule, which fee rates a trade is sized with)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tradebot.side import Side
from tradebot.sizing.instruments import Instrument, round_price, round_qty


class ExecutionSettings(BaseModel):
    """``[execution]``: ``mode = "market"`` sends a market entry with its TP/SL attached (both taker);
    ``"maker_first"`` posts a PostOnly limit at the best bid (Buy) or ask (Sell), re-prices it at most
    ``reprice_max`` times over ``reprice_window_s`` seconds, then sends a market order (``fallback = "market"``)
    or trades nothing (``"skip"``); its take-profit is a reduce-only limit (maker) for the whole size."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["market", "maker_first"] = Field(
        "maker_first", description="'market': taker entry; 'maker_first': PostOnly limit at the touch first")
    reprice_max: int = Field(2, ge=0, le=20, description="re-prices of the unfilled limit (0 = keep its price)")
    reprice_window_s: float = Field(10.0, ge=1, le=3600, description="seconds the limit may wait in all")
    fallback: Literal["market", "skip"] = Field(
        "market", description="after the window: 'market' sends a market order, 'skip' trades nothing")

    @property
    def maker(self) -> bool:
        return self.mode == "maker_first"

    def wait_between(self) -> float:
        """Seconds between looks at the resting limit: the window cut into ``reprice_max + 1`` equal waits."""
        return self.reprice_window_s / (self.reprice_max + 1)

    def window_bars(self, interval_ms: int) -> int:
        """The backtest's timeout in bars: the window rounded UP to whole bars (a bar's inside is not seen)."""
        return max(1, math.ceil(self.reprice_window_s * 1000 / max(1, interval_ms)))


def touch_price(side: Side, bid: Decimal, ask: Decimal, inst: Instrument) -> Decimal:
    """Where a PostOnly entry rests: the best bid for a Buy, the best ask for a Sell, on the tick grid (rounded
    away from the other side, so it never crosses the spread)."""
    if Side(side) == Side.BUY:
        return round_price(bid, inst, "down")
    return round_price(ask, inst, "up")


def taker_qty(qty: Decimal, risk_usdt: Decimal, entry: Decimal, entry_rate: Decimal, taker_rate: Decimal,
              inst: Instrument, *, max_fee_share: Decimal = Decimal(1)) -> Decimal:
    """The market fallback's size: a maker-sized ``qty`` (loss per coin ``risk_usdt / qty`` with the entry at
    ``entry_rate``) made smaller so the loss per coin with a taker entry keeps within the same risk. 0 (no
    fallback) when that falls below the minimum qty, or when the round-trip fees with a taker entry would take
    more than ``max_fee_share`` of the risk (``size_position`` would refuse that market entry)."""
    if qty <= 0 or risk_usdt <= 0:
        return Decimal(0)
    per_coin = risk_usdt / qty
    extra = max(Decimal(0), taker_rate - entry_rate) * entry
    taker_per_coin = per_coin + extra
    # the fees in the maker-sized loss per coin: entry_rate·entry + taker_rate·x, x ≤ entry + the stop distance
    fees = entry_rate * entry + taker_rate * (entry + per_coin) + extra
    if fees > max_fee_share * taker_per_coin:
        return Decimal(0)
    out = round_qty(qty * per_coin / taker_per_coin, inst, market=True)
    return out if out >= inst.min_qty else Decimal(0)


def fee_words(entry_maker: bool, entry_rate: Decimal, stop_rate: Decimal) -> str:
    """Which fees a size assumed, for the card: the entry's (maker or taker) and the stop's (always taker)."""
    def pct(r: Decimal) -> str:
        return f"{(r * 100).normalize():f}%"

    if not entry_maker:
        return f"taker {pct(stop_rate)} in and out, at the stop"
    return (f"maker entry {pct(entry_rate)} (a market fallback is re-sized at taker), taker stop {pct(stop_rate)}; "
            "take-profit as a maker limit")


MARKET_ENTRIES = ExecutionSettings(mode="market")  # market entries and a market take-profit (the old behaviour)
