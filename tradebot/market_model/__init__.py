"""The exchange model that the backtest and the simulator share: the synthetic order book walked by market orders
(``book``), candle feeds and the price path inside a candle (``feed``), and the instrument rules (``instruments``).

Production code (the backtest) imports it from here; the proving ground's simulator (``proving/sim``) builds on it,
so both fill through the same functions and the runtime never needs ``proving/``.
"""
