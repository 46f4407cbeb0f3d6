"""Benchmark entry point: ``python -m bench <name>``; with no name, list the benchmarks."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import backtest, calls, fees, heavy, signals, stream

BENCHMARKS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "signals": (signals.main, signals.DESCRIPTION),
    "backtest": (backtest.main, backtest.DESCRIPTION),
    "stream": (stream.main, stream.DESCRIPTION),
    "heavy": (heavy.main, heavy.DESCRIPTION),
    "fees": (fees.main, fees.DESCRIPTION),
    "calls": (calls.main, calls.DESCRIPTION),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "list"}:
        print("usage: python -m bench <benchmark> [args]\n\nbenchmarks:")
        for name, (_, description) in BENCHMARKS.items():
            print(f"  {name:<12} {description}")
        return 0
    entry = BENCHMARKS.get(argv[0])
    if entry is None:
        print(f"unknown benchmark {argv[0]!r}; choose from: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    return entry[0](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
