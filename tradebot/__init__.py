"""Telegram-controlled trading bot for Bybit v5 linear perpetuals."""

__version__ = "0.1.0"
