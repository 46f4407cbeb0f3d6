"""Built-in table of realistic Bybit linear-perpetual instruments served by the simulator."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal


@dataclass(frozen=True)
class Instrument:
    """Trading rules of one linear USDT perpetual (field names follow instruments-info)."""

    symbol: str
    base_coin: str
    tick_size: Decimal
    qty_step: Decimal
    min_order_qty: Decimal
    max_order_qty: Decimal
    max_mkt_order_qty: Decimal
    min_notional: Decimal
    max_leverage: Decimal
    min_price: Decimal
    max_price: Decimal
    default_price: Decimal
    symbol_id: int = 0  # the simulator's own numbering (Bybit's ids are internal; BTCUSDT is 5 in the docs)

    def wire(self) -> dict[str, object]:
        """The instruments-info row, all numbers as strings."""
        exponent = self.tick_size.normalize().as_tuple().exponent
        assert isinstance(exponent, int)  # a finite tick size
        scale = max(0, -exponent)
        return {
            "symbol": self.symbol, "symbolId": self.symbol_id, "contractType": "LinearPerpetual", "status": "Trading",
            "baseCoin": self.base_coin, "quoteCoin": "USDT", "settleCoin": "USDT",
            "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
            "priceScale": str(scale),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{self.max_leverage}.00",
                               "leverageStep": "0.01"},
            "priceFilter": {"minPrice": str(self.min_price), "maxPrice": str(self.max_price),
                            "tickSize": str(self.tick_size)},
            "lotSizeFilter": {"maxOrderQty": str(self.max_order_qty), "minOrderQty": str(self.min_order_qty),
                              "qtyStep": str(self.qty_step), "postOnlyMaxOrderQty": str(self.max_order_qty),
                              "maxMktOrderQty": str(self.max_mkt_order_qty),
                              "minNotionalValue": str(self.min_notional)},
            "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "both",
            "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False,
            "preListingInfo": None, "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "symbolType": "",
        }


def _ins(symbol: str, base: str, tick: str, step: str, min_qty: str, max_qty: str, mkt_qty: str,
         lev: str, min_price: str, max_price: str, price: str) -> Instrument:
    return Instrument(symbol, base, Decimal(tick), Decimal(step), Decimal(min_qty), Decimal(max_qty),
                      Decimal(mkt_qty), Decimal("5"), Decimal(lev), Decimal(min_price), Decimal(max_price),
                      Decimal(price))


_TABLE = (
    _ins("BTCUSDT", "BTC", "0.10", "0.001", "0.001", "1190.000", "500.000", "100", "0.10", "1999999.80",
         "60000"),
    _ins("ETHUSDT", "ETH", "0.01", "0.01", "0.01", "7240.00", "724.00", "100", "0.01", "199999.98", "3000"),
    _ins("SOLUSDT", "SOL", "0.010", "0.1", "0.1", "79770.0", "5000.0", "100", "0.010", "19999.980", "150"),
    _ins("XRPUSDT", "XRP", "0.0001", "1", "1", "2000000", "200000", "75", "0.0001", "199.9998", "0.5"),
    _ins("BNBUSDT", "BNB", "0.10", "0.01", "0.01", "3800.00", "380.00", "75", "0.10", "199999.80", "600"),
    _ins("DOGEUSDT", "DOGE", "0.00001", "1", "1", "10000000", "1000000", "75", "0.00001", "19.99998",
         "0.15"),
    _ins("ADAUSDT", "ADA", "0.0001", "1", "1", "5000000", "500000", "75", "0.0001", "199.9998", "0.45"),
    _ins("LTCUSDT", "LTC", "0.01", "0.1", "0.1", "18000.0", "1800.0", "75", "0.01", "19999.98", "80"),
)
INSTRUMENTS: dict[str, Instrument] = {i.symbol: replace(i, symbol_id=n) for n, i in enumerate(_TABLE, 1)}
