"""What the streams and stops benchmarks share: the simulator's account, the symbols, the config, percentiles."""

from __future__ import annotations

import dataclasses
from typing import Any

KEY, SECRET, CHAT = "bench-key", "bench-secret", 7


def bench_symbols(n: int) -> list[str]:
    """``n`` symbols: the simulator's built-in ones, then synthetic clones registered for this process."""
    from proving.sim.instruments import INSTRUMENTS

    base = [s for s in INSTRUMENTS if not s.startswith("BENCH")][:n]
    template = INSTRUMENTS["ETHUSDT"]
    for i in range(n - len(base)):
        sym = f"BENCH{i:03d}USDT"
        INSTRUMENTS.setdefault(sym, dataclasses.replace(template, symbol=sym, base_coin=f"BENCH{i:03d}"))
        base.append(sym)
    return base


def bench_config(symbols: list[str], db_url: str, **bot: Any) -> Any:
    from tradebot.settings.config import BotSettings, Config, EnvSettings, FileConfig

    settings = BotSettings.model_validate({"interval": "5", "loop_seconds": 60, "mode": "auto", **bot})
    settings = settings.model_copy(update={"symbols": symbols})  # 100 symbols: past the config's 50 on purpose
    env = EnvSettings(TELEGRAM_ALLOWED_CHAT_IDS=[CHAT], DATABASE_URL=db_url)
    return Config(env=env, file=FileConfig(bot=settings), source="bench")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]
