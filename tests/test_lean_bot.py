"""The long-running bot keeps pyarrow out (66 MB resident): bot.py marks it absent; the candle cache then parses the CSV."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "BTCUSDT_5m.csv"

CHILD = """
import json, sys
import bot
bot.without_pyarrow()
import pandas, wiring.app, wiring.process, wiring.demo, handlers.commands  # everything the bot process imports
from tradebot.backtest.cache import load_cached
df, q, cached = load_cached(sys.argv[1], __import__("pathlib").Path(sys.argv[2]))
print(json.dumps({"arrow": "pyarrow.lib" in sys.modules, "rows": len(df), "cached": cached}))
"""


def test_bot_process_imports_no_pyarrow_and_the_cache_falls_back_to_csv(tmp_path):
    r = subprocess.run([sys.executable, "-W", "error", "-c", CHILD, str(SAMPLE), str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"arrow": False, "rows": out["rows"], "cached": False} and out["rows"] > 1000
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_main_keeps_pyarrow_out_only_for_the_long_running_modes():
    src = (ROOT / "bot.py").read_text()
    body = src[src.index("def main("):]
    assert body.index("without_pyarrow()") < body.index("load_config"), "must run before pandas is imported"
    assert "if args.command is None:\n        without_pyarrow()" in body
