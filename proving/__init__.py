"""The proving ground, outside the production packages: Bybit simulator, offline Telegram Bot API, terminal chat, --demo."""
