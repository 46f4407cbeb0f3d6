"""`bot.py optimize`: walk-forward parameter search with Optuna over the backtest (see README "Optimize")."""

import logging

# Importing Optuna's RDB storage loads alembic, whose plugin registry logs every plugin at INFO.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
