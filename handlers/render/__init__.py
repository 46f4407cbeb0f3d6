"""The chat layer's rendering: the core's views and events → Telegram HTML and chart PNGs (pure, no I/O)."""
