"""The one call bot.py makes to run the bot: ``--demo`` (offline, proving ground) or the live serve loop."""

from __future__ import annotations

import asyncio

from tradebot.settings.config import Config


def run(cfg: Config, *, demo: bool, demo_seconds: float | None, speed: float | None = None) -> int:
    """0 ok, 2 token rejected, 3 another instance (lock or Telegram conflict); see wiring/live.py."""
    if demo:
        from wiring.demo import run_demo

        return run_demo(cfg, seconds=demo_seconds, speed=speed)
    from wiring.live import serve

    return asyncio.run(serve(cfg))
