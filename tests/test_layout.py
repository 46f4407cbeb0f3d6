"""The layout holds: the packages import in one direction (the allowed arrows below), no import cycles between the
project's modules (``if TYPE_CHECKING:`` imports count too), no mixins, and every command-line entry point starts."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tradebot", "storage", "handlers", "proving", "wiring", "bench")
SCRIPTS = ("bot.py",)

# The bottom layer: the core's shared basics, which import nothing of the project but each other. storage/ may
# import these and nothing else of the core.
BASICS = frozenset({"tradebot.side", "tradebot.money", "tradebot.timeutil", "tradebot.states", "tradebot.errors",
                    "tradebot.intents", "tradebot.outcome", "tradebot.text", "tradebot.parsing"})
# The package order, bottom to top: which parts each part may import (besides itself). "core" is tradebot/ without
# the basics; "bot" is bot.py. Drawn in ARCHITECTURE.md ("Package order").
ALLOWED: dict[str, frozenset[str]] = {
    "basics": frozenset(),
    "storage": frozenset({"basics"}),
    "core": frozenset({"basics", "storage"}),
    "handlers": frozenset({"basics", "storage", "core"}),
    "proving": frozenset({"basics", "storage", "core"}),
    "wiring": frozenset({"basics", "storage", "core", "handlers", "proving"}),
    "bench": frozenset({"basics", "storage", "core", "handlers", "proving", "wiring"}),
    "bot": frozenset({"basics", "storage", "core", "wiring"}),
}
# The one arrow past the order: `python -m tradebot.sim`, a fixed command line, runs the simulator's CLI.
ENTRY_EXCEPTIONS = frozenset({("tradebot.sim", "proving.sim.__main__")})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    found.update({module_name(ROOT / s): ROOT / s for s in SCRIPTS})
    return found


def part_of(module: str) -> str:
    """The package-order part a module belongs to (see ALLOWED)."""
    top = module.split(".")[0]
    if top == "tradebot":
        return "basics" if module in BASICS else "core"
    return top


def _type_checking_only(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules ``name`` imports: top level, inside functions and under ``if TYPE_CHECKING:`` (an import
    made for the type checker only still ties the two modules together)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()

    def add(target: str) -> None:
        while target and target not in known:  # `import a.b.c` where only a.b is ours, say
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                add(sub if sub in known else mod)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return out


def import_graph() -> dict[str, set[str]]:
    known = project_modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        path: list[str] = [start]
        todo: list[list[str]] = [sorted(graph[start])]
        state[start] = 1
        while todo:
            if not todo[-1]:
                state[path.pop()] = 2
                todo.pop()
                continue
            nxt = todo[-1].pop()
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                todo.append(sorted(graph.get(nxt, ())))
    return None


def test_the_graph_sees_imports_and_cycles(tmp_path: Path) -> None:
    """The checker itself: a known edge is found, and a made-up cycle is reported."""
    graph = import_graph()
    assert "wiring.app" in graph["wiring.live"]
    assert "proving.sim.__main__" in graph["tradebot.sim"]  # inside the __main__ block: function-level imports count
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from storage.journal import Journal\n"
    (tmp_path / "x.py").write_text(typed)
    assert imports_of("x", tmp_path / "x.py", project_modules()) == {"storage.journal"}  # type-only imports count
    assert backward_arrows({"storage.lock": {"handlers.deps"}, "tradebot.side": {"tradebot.tick.engine"},
                            "tradebot.sim": {"proving.sim.__main__"}}) == [
        "basics -> core: tradebot.side -> tradebot.tick.engine", "storage -> handlers: storage.lock -> handlers.deps"]


def backward_arrows(graph: dict[str, set[str]]) -> list[str]:
    """Imports that break the package order (ALLOWED), as "part -> part: module -> module"."""
    out = []
    for module, targets in graph.items():
        for target in targets:
            a, b = part_of(module), part_of(target)
            if a != b and b not in ALLOWED[a] and (module, target) not in ENTRY_EXCEPTIONS:
                out.append(f"{a} -> {b}: {module} -> {target}")
    return sorted(out)


def test_packages_import_in_one_direction() -> None:
    """basics ← storage ← core ← handlers/proving ← wiring ← bench/bot.py: storage imports only the basics (never
    handlers/), the core never imports proving/ (the exchange model it shares with the simulator is
    tradebot/market_model/), handlers/ never imports proving/ or wiring/, proving/ never imports handlers/ or
    wiring/. Type-only and function-level imports count."""
    assert backward_arrows(import_graph()) == []


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_production_packages_do_not_import_the_test_harness() -> None:
    """tradebot/, storage/ and handlers/ never import the offline Telegram, the terminal chat or --demo."""
    graph = import_graph()
    bad = sorted(f"{m} -> {t}" for m, ts in graph.items() if m.split(".")[0] in {"tradebot", "storage", "handlers"}
                 for t in ts if t.startswith(("proving.telegram", "proving.terminal")))
    assert not bad, bad


@pytest.mark.parametrize(("argv", "code", "expect"), [
    (["-m", "tradebot.sim", "--help"], 0, "Bybit v5 exchange simulator"),
    (["-m", "proving.sim", "--help"], 0, "Bybit v5 exchange simulator"),
    (["-m", "bench", "--help"], 0, "usage: python -m bench"),
    (["-m", "storage"], 2, 'usage: python -m storage revision'),
    (["bot.py", "--help"], 0, "usage: bot.py"),
])
def test_entry_points_start(argv: list[str], code: int, expect: str) -> None:
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert expect in proc.stdout + proc.stderr


@pytest.mark.parametrize("module", ["wiring.app", "wiring.live", "wiring.demo", "proving.telegram.hub",
                                    "handlers.commands", "tradebot.tick.engine", "storage.lock"])
def test_python_dash_m_imports_any_module(module: str) -> None:
    """``python -m X`` runs X as __main__ after importing what it imports: a cycle back to X would import it twice."""
    proc = subprocess.run([sys.executable, "-W", "error", "-m", module], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def mixins(sources: dict[str, str]) -> list[str]:
    """Classes written as mixins: named so, stubbing a host's methods under ``if TYPE_CHECKING:``, or declaring
    a host's fields (bare annotations, no ``__init__``) while another class inherits them. Data classes,
    models, enums, exceptions and protocols declare fields that way legitimately and are left out."""
    found, declares, bases = [], {}, set()
    for module, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.ClassDef):
                continue
            names = {b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                     if isinstance(b, ast.Name | ast.Attribute)}
            bases |= names
            where = f"{module}.{node.name}"
            if node.name.endswith("Mixin") or any(isinstance(s, ast.If) and _type_checking_only(s)
                                                  for s in node.body):
                found.append(where)
                continue
            decorated = any("dataclass" in ast.unparse(d) for d in node.decorator_list)
            data_like = decorated or bool(names & {"BaseModel", "SQLModel", "Enum", "StrEnum", "IntEnum", "Protocol",
                                                   "NamedTuple", "TypedDict", "Exception", "Generic"})
            bare = [s for s in node.body if isinstance(s, ast.AnnAssign) and s.value is None]
            has_init = any(isinstance(s, ast.FunctionDef) and s.name == "__init__" for s in node.body)
            if bare and not has_init and not data_like:
                declares[node.name] = where
    found += [where for name, where in declares.items() if name in bases]
    return sorted(found)


def test_the_mixin_check_finds_the_three_shapes() -> None:
    src = ("from typing import TYPE_CHECKING\n"
           "class ConfirmationsMixin:\n    pass\n"
           "class Walk:\n    if TYPE_CHECKING:\n        def _exit(self) -> None: ...\n"
           "class Methods:\n    _lock: object\n    def send(self) -> None:\n        self._lock\n"
           "class Hub(Methods):\n    def __init__(self) -> None:\n        self._lock = object()\n")
    assert mixins({"m": src}) == ["m.ConfirmationsMixin", "m.Methods", "m.Walk"]


def test_no_mixins() -> None:
    """Composition, not mixins: a part is an object its owner holds (or plain functions), never a base class that
    reaches into its host's state."""
    sources = {name: path.read_text() for name, path in project_modules().items()}
    assert mixins(sources) == []


def test_every_module_stays_readable_in_one_sitting() -> None:
    """No production module grows past 400 lines: past that, split it along a seam (see ARCHITECTURE.md)."""
    long = {name: n for name, path in project_modules().items()
            if (n := len(path.read_text().splitlines())) > 400}
    assert long == {}


# Telegram's HTML (the tags its parse mode reads) written in a string: <b>, </code>, <a href="...">, ...
TELEGRAM_TAG = re.compile(r"</?(?:b|strong|i|em|u|ins|s|strike|del|code|pre|a|span|tg-spoiler|tg-emoji|blockquote)"
                          r"(?:\s[^<>]*)?>")
# The core's own PNGs: the backtest's and the optimiser's reports, drawn for their command lines as for the chat.
CORE_PLOTS = frozenset({"tradebot.backtest.plot", "tradebot.optimize.plot"})
# The chat layer's one module that holds journal rows: the outbox's sender delivers (and retires) its rows.
ROW_READERS = frozenset({"handlers.alerts"})


def telegram_rendering(name: str, text: str) -> list[str]:
    """What in a module renders for the chat: HTML escaping (``html``, an ``esc``), a string holding Telegram's HTML
    tags, or matplotlib (chart PNGs; the core's own reports in CORE_PLOTS aside)."""
    found, tree = [], ast.parse(text)
    in_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        mods = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        for mod in mods:
            top = mod.split(".")[0]
            if top == "html" or (top == "matplotlib" and name not in CORE_PLOTS):
                found.append(f"{name} imports {mod}")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "esc":
            found.append(f"{name} defines esc()")
        string = (node.value if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in in_fstrings else
                  "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
                  if isinstance(node, ast.JoinedStr) else "")
        if TELEGRAM_TAG.search(string):
            found.append(f"{name} writes Telegram HTML: {string[:40]!r}")
    return sorted(set(found))


def test_the_rendering_check_sees_html_and_charts() -> None:
    """The checker itself: the renderers in the chat layer are what it would refuse in the core."""
    modules = project_modules()
    for renderer in ("handlers.render.formatting", "handlers.render.readings", "handlers.render.reports",
                     "handlers.render.manual_views", "handlers.render.chart", "handlers.render.equity_chart"):
        assert telegram_rendering(renderer, modules[renderer].read_text()), renderer
    assert telegram_rendering("m", "x = f'<a href=\"{u}\">go</a>'\n") == ['m writes Telegram HTML: \'<a href="{}">go</a>\'']
    assert telegram_rendering("m", "from html import escape\n") == ["m imports html"]
    assert telegram_rendering("m", "if a < b and c > d:\n    x = '<= 3 >'\n") == []


def test_telegram_rendering_lives_in_the_chat_layer() -> None:
    """The core (tradebot/) and storage/ return views and emit events; Telegram's HTML and the chat's chart PNGs are
    made from them in handlers/render/."""
    found = [hit for name, path in project_modules().items() if name.split(".")[0] in {"tradebot", "storage"}
             for hit in telegram_rendering(name, path.read_text())]
    assert found == []


def journal_rows_in_chat(graph: dict[str, set[str]]) -> list[str]:
    """Imports by which journal rows would reach the chat's rendering: a renderer (handlers/render/) importing
    storage/ at all, another handler importing storage.models (the outbox's sender aside, ROW_READERS)."""
    out = []
    for module, targets in graph.items():
        for target in targets:
            if module.startswith("handlers.render") and target.split(".")[0] == "storage":
                out.append(f"{module} -> {target}")
            elif (module.split(".")[0] == "handlers" and target.startswith("storage.models")
                  and module not in ROW_READERS):
                out.append(f"{module} -> {target}")
    return sorted(out)


def test_renderers_take_views_not_journal_rows() -> None:
    """A TradeRecord or a Confirmation never reaches a renderer: the core copies what is shown into a view
    (tradebot/chat/views.py). Type-only and function-level imports count."""
    assert journal_rows_in_chat({"handlers.render.chart": {"storage.models"}, "handlers.commands": {"storage.models"},
                                 "handlers.alerts": {"storage.models"}, "handlers.render.formatting": {"storage.stats"}}
                                ) == ["handlers.commands -> storage.models", "handlers.render.chart -> storage.models",
                                      "handlers.render.formatting -> storage.stats"]
    assert journal_rows_in_chat(import_graph()) == []
