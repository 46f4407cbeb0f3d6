"""An in-memory Telegram Bot API (hub, message types, method emulation) that a real PTB Application talks to."""
