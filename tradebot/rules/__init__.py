"""The trading rules, each in one place, in exact integers (prices as ticks or finer units, sizes as qty steps).

The live engine converts its Decimals at the edge (``tradebot.care.stops`` for the stop walk and break-even,
``tradebot.sizing.risk.size_position`` for sizing), the backtest calls these directly on its integer-tick candles,
and the compiled bar walk (``tradebot.backtest.kernel``) is checked against them in tests."""
