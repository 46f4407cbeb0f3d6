"""Every `type: ignore` in the strictly type-checked files names its error code and says why (issue 13)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORE = re.compile(r"#\s*type:\s*ignore")
WITH_REASON = re.compile(r"#\s*type:\s*ignore\[[a-z-]+(?:,\s*[a-z-]+)*\]\s+#\s*\S")


def _mypy_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def _checked_files() -> list[Path]:
    out: list[Path] = []
    for entry in _mypy_config()["files"]:
        path = ROOT / entry
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return out


def test_mypy_is_strict_and_runs_in_ci():
    cfg = _mypy_config()
    assert cfg["strict"] is True
    assert cfg["python_version"] == "3.11"
    files = _checked_files()
    assert files and all(f.is_file() for f in files), "pyproject's [tool.mypy] files must name existing paths"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ".venv/bin/mypy" in ci, ".ci/run must run mypy (the files come from pyproject.toml)"


def test_every_type_ignore_in_checked_files_has_a_code_and_a_reason():
    bare = [f"{f.relative_to(ROOT)}:{n}: {line.strip()}"
            for f in _checked_files()
            for n, line in enumerate(f.read_text().splitlines(), 1)
            if IGNORE.search(line) and not WITH_REASON.search(line)]
    assert not bare, "write `# type: ignore[code]  # why`:\n" + "\n".join(bare)
