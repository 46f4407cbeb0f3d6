"""``python -m tests.money [--long | --find]``: the model-based money test outside pytest.

- no option: the CI size (the same run as ``pytest tests/money``), figures printed;
- ``--long``: ≥ 10,000 steps (``--examples`` × ``--steps``, default 350 × up to 40), figures written into
  RELIABILITY.md (section ``money-long``; ``--no-write`` only prints);
- ``--find``: the negative control: a broken promise ends its example and the run goes on; prints when each promise
  first broke (example, step) and that example shrunk by replay (figures into the ``money-find`` section).
Exit code 0 when every promise held (for ``--find``: when at least one broke).
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import UTC, datetime

from tests.money.run import ci_settings, hunt_settings, long_settings, run, shrink
from tests.reliability.__main__ import write


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.money")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--long", action="store_true", help="at least 10,000 steps; figures into RELIABILITY.md")
    mode.add_argument("--find", action="store_true", help="the negative control: every promise the machine breaks")
    ap.add_argument("--examples", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.long:
        cfg = long_settings(args.examples or 350, args.steps or 40)
    elif args.find:
        cfg = hunt_settings(args.examples or 300, args.steps or 40)
    else:
        cfg = ci_settings()
    print(f"money model: up to {cfg.max_examples} examples × {cfg.stateful_step_count} steps…", flush=True)
    out = run(cfg, hunt=args.find, progress=True)
    if args.find:
        for kind, found in sorted(out.found.items(), key=lambda kv: kv[1].step):
            print(f"shrinking {kind} ({len(found.trace)} steps)…", flush=True)
            out.shrunk[kind] = shrink(kind, found)
    lines = out.lines()
    print("\n".join(f"  {line}" for line in lines))
    if out.failure:
        print("=" * 100, out.failure, sep="\n")
    ok = bool(out.found) if args.find else not out.found
    if args.long and not out.found and out.steps < 10_000:
        lines.append(f"fewer than 10,000 steps ({out.steps}): run again with more --examples")
        ok = False
    if (args.long or args.find) and not args.no_write:
        command = "python -m tests.money" + " ".join(["", *sys.argv[1:]])
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        verdict = ("every promise held" if not out.found else "promises broken (below)")
        body = [f"Produced by `{command}` on {when} ({platform.python_version()}, {platform.machine()}, "
                f"{out.seconds:.0f} s). Result: **{verdict}**.", "", "```", *lines, "```"]
        write("money-find" if args.find else "money-long", "\n".join(body))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
