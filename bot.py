"""Entry point: `python bot.py` (Telegram bot + trading loop), `--demo`, `backtest`, `download`, `health`, `optimize`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dotenv import load_dotenv


def output_path(value: str) -> str:
    """argparse type for every output file flag: its parent directories are created (``out/report.json``)."""
    try:
        Path(value).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot create the directory for {value}: {exc.strerror}") from exc
    return value


def without_pyarrow() -> None:
    """Keep pyarrow out of the long-running bot (live and --demo).

    pandas imports pyarrow at its own import whenever it is installed: 66 MB resident and 0.3 s of start-up on
    this machine. Only the backtest's Parquet candle cache uses it, and that cache falls back to parsing the CSV
    (``/backtest`` from the chat), so the bot process marks it absent before anything imports pandas; pandas then
    keeps strings in Python objects, as it does wherever pyarrow is not installed. Backtest, optimize and
    download keep it.
    """
    sys.modules.setdefault("pyarrow", None)  # a None entry makes `import pyarrow` raise ImportError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bot.py", description="Telegram-controlled trading bot for Bybit v5 linear perps")
    p.add_argument("--config", help="TOML config file (default: $CONFIG_FILE, else ./config.toml, else defaults)")
    p.add_argument("--demo", action="store_true",
                   help="run fully offline: in-process simulator, bundled candles, the chat in this terminal")
    p.add_argument("--demo-seconds", type=float, default=None,
                   help="with --demo: stop after this many seconds (default: 60 when piped, no limit at a terminal)")
    p.add_argument("--speed", type=float, default=None,
                   help="with --demo: replay speed in candles per second (default: 1 at a terminal, 10 when piped)")
    sub = p.add_subparsers(dest="command")
    bt = sub.add_parser("backtest", help="replay history through the live strategy and risk code")
    bt.add_argument("--symbol", default="BTCUSDT")
    bt.add_argument("--interval", default=None, help="candle interval in minutes (default: from config)")
    src = bt.add_mutually_exclusive_group()
    src.add_argument("--data", help="candle CSV: timestamp,open,high,low,close,volume")
    src.add_argument("--days", type=int, help="download/cached days from Bybit's public klines")
    bt.add_argument("--from", dest="date_from", help="start date (UTC, YYYY-MM-DD)")
    bt.add_argument("--to", dest="date_to", help="end date (UTC, YYYY-MM-DD, exclusive)")
    bt.add_argument("--json", dest="json_out", type=output_path, help="write the report as JSON here")
    bt.add_argument("--plot", type=output_path, help="write the equity + drawdown PNG here")
    bt.add_argument("--trades-csv", type=output_path, help="write the trade list as CSV here")
    bt.add_argument("--balance", default="10000", help="starting balance in USDT")
    bt.add_argument("--funding", default=None,
                    help="funding-rate CSV (timestamp_ms,funding_rate); default SYMBOL_funding.csv next to the "
                         "candles, as `download` writes it")
    bt.add_argument("--no-progress", action="store_true")
    sub.add_parser("health", help="exit 0 if the running bot's trading loop and chat side are alive (from the "
                   "journal's heartbeats, within [bot] health_max_age_seconds); else 1 with the reason")
    dl = sub.add_parser("download", help="download candles from Bybit's public kline endpoint into data/cache/")
    dl.add_argument("--symbol", default="BTCUSDT")
    dl.add_argument("--interval", default="15")
    dl.add_argument("--days", type=int, default=90)
    dl.add_argument("--out", default=None, type=output_path, help="CSV path (default data/cache/SYMBOL_INTERVAL.csv)")
    dl.add_argument("--base-url", default=None, help="Bybit base URL (default mainnet; the simulator in tests)")
    dl.add_argument("--no-progress", action="store_true")
    from tradebot.optimize.args import add_parser as add_optimize

    add_optimize(sub, output_path)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.demo and (args.speed is not None or args.demo_seconds is not None):
        parser.error("--speed and --demo-seconds only apply with --demo")
    if args.command is None:
        without_pyarrow()
    load_dotenv()
    from tradebot.logs import install_stderr_hooks, setup_logging
    from tradebot.settings.config import ConfigErrors, load_config

    offline = args.demo or args.command in ("backtest", "download", "health", "optimize")
    try:
        cfg = load_config(config_path=args.config, demo=offline)
    except ConfigErrors as exc:
        print("Configuration error — the bot did not start:", file=sys.stderr)
        for e in exc.errors:
            print(f"  {e.key} = {e.value!r}: {e.allowed}", file=sys.stderr)
        return 1 if args.command == "health" else 2  # Docker reserves HEALTHCHECK exit code 2
    if args.command == "health":
        from wiring.health import check

        code, line = check(cfg)
        print(line, file=sys.stdout if code == 0 else sys.stderr)
        return code
    install_stderr_hooks(setup_logging(cfg.env.LOG_LEVEL if not args.demo else "WARNING", cfg.secrets()))
    if args.command == "backtest":
        from tradebot.backtest.cli import run_backtest_cli

        return run_backtest_cli(args, cfg)
    if args.command == "optimize":
        from tradebot.optimize.cli import run_optimize_cli

        return run_optimize_cli(args, cfg)
    if args.command == "download":
        from tradebot.backtest.download import run_download_cli

        return run_download_cli(args)
    from wiring.process import run

    return run(cfg, demo=args.demo, demo_seconds=args.demo_seconds, speed=args.speed)

if __name__ == "__main__":
    sys.exit(main())
