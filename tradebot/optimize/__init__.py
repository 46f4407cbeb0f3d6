"""`bot.py optimize`: walk-forward parameter search with Optuna over the backtest (see README "Optimize")."""
