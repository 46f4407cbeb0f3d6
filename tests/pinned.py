"""Settings some tests pin because their hand-made markets were drawn for them (issue 21 changed the defaults).

The stops and fee cap before issue 21 (1.5/3 ATR, round-trip fees up to half the risk): the engine, chat, money
and reliability tests trade synthetic candles whose ATR is far below what the new 0.25 cap admits, and they test
the bot's machinery, not the defaults. They also pin market entries (``tradebot.sizing.execution.MARKET_ENTRIES``).
"""

OLD_STOPS = {"sl_atr": "1.5", "tp_atr": "3.0", "max_fee_share": "0.5"}
