"""Every shell command in README.md's fenced blocks runs exactly as written in a fresh copy of the checkout.

Commands are picked up from the README automatically (```bash / ```sh / ```shell / ```console blocks; a line
ending in ``\\`` continues). Those that need the network, real secrets, Docker or would recurse are in ALLOWED
with the reason, and are only checked for shell syntax and, where they call ``bot.py``, its ``--help``. A command
that takes minutes can be listed in SLOW (run with ``-m slow``); the backtest and demo commands always run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHELL_LANGS = {"bash", "sh", "shell", "console"}
OUTPUT_FLAGS = {"--json", "--plot", "--trades-csv", "--out", "--csv"}
TIMEOUT = 240


@dataclass(frozen=True)
class Allowed:
    pattern: str
    reason: str
    check: str  # "syntax": bash -n only; "help": bash -n and `bot.py [subcommand] --help`


ALLOWED = [
    Allowed(r"^python3(\.\d+)? -m venv", "creates a venv and installs the runtime from PyPI (network); .ci/run "
            "does exactly this in CI, and the demo at its end is run by the piped-demo command", "help"),
    Allowed(r"-m pytest\b", "installs the test tools (network) and runs the test suite itself (it would run this "
            "test again); .ci/run runs it exactly as written", "syntax"),
    Allowed(r"\bbot\.py download\b", "downloads from Bybit's public API (network)", "help"),
    Allowed(r"^\.venv/bin/python bot\.py\s*$", "the live bot: needs a real bot token, chat ids and exchange keys",
            "help"),
    Allowed(r"^docker\b", "needs a Docker engine (CI has none); compose.yaml is checked by test_compose.py",
            "syntax"),
    Allowed(r"\bbot\.py health\b", "reads a running bot's journal (tested in tests/telegram/test_health.py)", "help"),
    Allowed(r"\bbot\.py optimize\b.*--days\b", "downloads from Bybit's public API (network)", "help"),
    Allowed(r"\bbot\.py optimize\b.*--storage postgresql", "needs a PostgreSQL server the workers share (tested "
            "in tests/optimize/test_distributed.py)", "help"),
    Allowed(r"^createdb\b", "needs a PostgreSQL server", "syntax"),
]


# Commands that take minutes run only with `-m slow` (the backtest and the demo must stay in CI: keep them out).
SLOW: list[str] = []  # regexes, like ALLOWED's patterns


def readme_commands(text: str) -> list[str]:
    """Logical command lines of the README's shell blocks (continuations joined, comment lines dropped)."""
    out: list[str] = []
    for m in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.S | re.M):
        if m.group(1).lower() not in SHELL_LANGS:
            continue
        pending = ""
        for raw in m.group(2).splitlines():
            line = raw.rstrip()
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            line = re.sub(r"^\$ ", "", line) if not pending else line
            if line.endswith("\\"):
                pending += line[:-1].rstrip() + " "
                continue
            out.append((pending + line.strip()).strip())
            pending = ""
        if pending:
            out.append(pending.strip())
    return out


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def allowed(cmd: str) -> Allowed | None:
    return next((a for a in ALLOWED if re.search(a.pattern, cmd)), None)


def fresh_checkout(dest: Path) -> Path:
    """The repo's files (tracked and untracked-not-ignored) copied to ``dest``, with .venv linked."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    (dest / ".venv").symlink_to((ROOT / ".venv").resolve() if (ROOT / ".venv").exists() else Path(sys.prefix))
    return dest


def clean_env() -> dict[str, str]:
    """No secrets, no config: what a newcomer has after cloning."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if k in keep} | {"MPLBACKEND": "Agg"}


def _id(cmd: str) -> str:
    return re.sub(r"\s+", " ", cmd)[:70]


def test_readme_has_the_commands_this_test_exists_for() -> None:
    assert any("bot.py backtest" in c for c in COMMANDS), COMMANDS
    assert any("bot.py --demo" in c and not allowed(c) for c in COMMANDS), COMMANDS
    for cmd in COMMANDS:
        if "bot.py backtest" in cmd or ("bot.py --demo" in cmd and not allowed(cmd)):
            assert not any(re.search(p, cmd) for p in SLOW), f"{cmd!r} must run in CI"


def test_ci_runs_exactly_the_readme_test_command_which_installs_what_the_tests_need():
    """Quick start: command 1 installs the runtime (requirements.txt) and starts the demo; command 2 adds the test
    tools (requirements-dev.txt) and runs the suite; .ci/run calls command 2 as written."""
    quick = COMMANDS[:2]
    assert re.fullmatch(r"python3\.11 -m venv \.venv && \.venv/bin/pip install -r requirements\.txt && "
                        r"\.venv/bin/python bot\.py --demo", quick[0]), quick
    assert re.fullmatch(r"\.venv/bin/pip install -r requirements-dev\.txt && \.venv/bin/python -m pytest", quick[1]), quick
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert quick[1] in ci, ".ci/run must call the README's test command exactly"
    assert ci.index(quick[1]) == max(i for i, line in enumerate(ci) if "pytest" in line)


def _param(cmd: str) -> object:
    slow = any(re.search(p, cmd) for p in SLOW)
    return pytest.param(cmd, id=_id(cmd), marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("cmd", [_param(c) for c in COMMANDS])
def test_readme_command(cmd: str, tmp_path: Path) -> None:
    repo = fresh_checkout(tmp_path / "clone")
    env = clean_env() | {"TMPDIR": str(tmp_path)}  # the demo keeps its folder (journal, log, charts) in TMPDIR
    syntax = subprocess.run(["bash", "-n", "-c", cmd], cwd=repo, capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    rule = allowed(cmd)
    if rule is not None:
        if rule.check == "help":
            m = re.search(r"bot\.py((?:\s+[a-z][\w-]*)?)", cmd)
            assert m, f"{cmd!r}: no bot.py call to check --help on"
            sub = m.group(1).split()
            sub = sub if sub and not sub[0].startswith("-") else []
            proc = subprocess.run([str(repo / ".venv/bin/python"), "bot.py", *sub, "--help"], cwd=repo, env=env,
                                  capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0, proc.stderr
        return
    proc = subprocess.run(["bash", "-c", cmd], cwd=repo, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{cmd}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stdout + proc.stderr
    words = shlex.split(cmd, comments=True)
    for flag, value in zip(words, words[1:], strict=False):
        if flag in OUTPUT_FLAGS:
            assert (repo / value).is_file(), f"{cmd}: {flag} {value} was not written"
