"""CLI: ``python -m tradebot.sim --host 127.0.0.1 --port 8900 --api-key KEY --api-secret SECRET ...``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from decimal import Decimal
from types import FrameType

from .core import Simulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m tradebot.sim", description="Bybit v5 exchange simulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8900, help="0 = pick a free port")
    ap.add_argument("--ws-port", type=int, default=None,
                    help="WebSocket port (default: --port + 1, or a free one when --port is 0)")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--api-secret", required=True)
    ap.add_argument("--symbol", action="append", default=[], help="repeatable; default BTCUSDT")
    ap.add_argument("--price", type=Decimal, default=None, help="random-walk start price (first symbol)")
    ap.add_argument("--balance", type=Decimal, default=Decimal("10000"))
    ap.add_argument("--data", action="append", default=[], help="path.csv (first symbol) or SYMBOL=path.csv")
    ap.add_argument("--speed", type=float, default=None, help="replay at N x real time (else step via /sim/step)")
    ap.add_argument("--state-file", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=200, help="replay candles already closed at start")
    ap.add_argument("--no-rate-limits", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")
    return ap.parse_args(argv)


def build(args: argparse.Namespace) -> Simulator:
    symbols = args.symbol or ["BTCUSDT"]
    candles: dict[str, str] = {}
    for spec in args.data:
        sym, sep, path = spec.partition("=")
        if sep and sym.isupper() and not sym.endswith(".csv"):
            candles[sym] = path
        else:
            candles[symbols[0]] = spec
    return Simulator(symbols, price=args.price, balance=args.balance, candles=candles or None, seed=args.seed,
                     api_key=args.api_key, api_secret=args.api_secret, rate_limits=not args.no_rate_limits,
                     state_file=args.state_file, warmup=args.warmup if candles else 0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sim = build(args)
    from .server import SimServer

    server = SimServer(sim, args.host, args.port, verbose=args.verbose)
    ws_port = args.ws_port if args.ws_port is not None else (args.port + 1 if args.port else 0)
    streams = sim.serve_streams(args.host, ws_port)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if args.speed:
        sim.start_replay(args.speed)
    print(f"listening on {server.url}", flush=True)
    print(f"websocket on {streams.url}", flush=True)
    while not stop.wait(0.2):
        pass
    streams.close()
    server.close()
    sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
