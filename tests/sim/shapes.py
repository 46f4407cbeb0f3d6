"""Recursive JSON shape comparison of a simulator answer against a Bybit docs response example."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bybit_docs"
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
MAPS = {"cumFeeDetail"}  # objects whose keys are data (coin names), not field names
TABLE_TYPES = {"string": str, "integer": int, "long": int, "number": int, "boolean": bool, "array": list,
               "object": dict, "json": dict}
# Envelope keys every v5 answer has (guide.mdx); some pages' examples omit retExtInfo/time.
ENVELOPE = {"retCode": 0, "retMsg": "OK", "result": {}, "retExtInfo": {}, "time": 0}


def load(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(docs example without ``_source``, its ``_source`` note)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    return data, data.pop("_source")


def jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(v)]


def _table_ok(kind: str | None, v: Any) -> bool:
    want = TABLE_TYPES.get((kind or "").split("<")[0].split("&")[0])
    if want is None:
        return True
    if want is int:
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, want) and not (want is int and isinstance(v, bool))


@dataclass
class Diff:
    """Differences found, each keyed by dotted field path inside ``result`` (list indexes dropped)."""

    documented: dict[str, str]
    values: bool = True
    missing: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    empties: dict[str, str] = field(default_factory=dict)

    def table(self, path: str) -> str | None:
        """The table's type for the field at ``path`` (its name at its nesting depth), None if not listed."""
        return self.documented.get(">" * path.count(".") + path.rsplit(".", 1)[-1])

    def compare(self, doc: Any, sim: Any, path: str = "") -> None:
        if doc is None:  # e.g. preListingInfo: null; the table says what it is when set
            if sim is not None and not _table_ok(self.table(path), sim):
                self.types[path] = f"docs null/{self.table(path)}, simulator {jtype(sim)}"
            return
        if jtype(doc) != jtype(sim):
            self.types[path] = f"docs {jtype(doc)} {doc!r:.40}, simulator {jtype(sim)} {sim!r:.40}"
            return
        if isinstance(doc, dict):
            self._object(doc, sim, path)
        elif isinstance(doc, list):
            self._list(doc, sim, path)
        elif isinstance(doc, str) and self.values:
            self._empty(doc, sim, path)

    def _object(self, doc: dict[str, Any], sim: dict[str, Any], path: str) -> None:
        if path.rsplit(".", 1)[-1] in MAPS:
            sample = next(iter(doc.values()), None)
            for v in sim.values():
                if sample is not None:
                    self.compare(sample, v, f"{path}.<key>")
            return
        for k, v in doc.items():
            sub = f"{path}.{k}" if path else k
            if k not in sim:
                self.missing[sub] = f"docs {jtype(v)} {v!r:.40}"
            else:
                self.compare(v, sim[k], sub)
        for k, v in sim.items():
            if k in doc:
                continue
            sub = f"{path}.{k}" if path else k
            kind = self.table(sub)
            if kind is None:
                self.extra[sub] = f"simulator {jtype(v)} {v!r:.40}"
            elif not _table_ok(kind, v):
                self.types[sub] = f"table says {kind}, simulator {jtype(v)} {v!r:.40}"

    def _list(self, doc: list[Any], sim: list[Any], path: str) -> None:
        if not doc:
            return
        if not sim:
            self.types[path] = "simulator list is empty: the scenario must produce a row to compare"
            return
        if all(not isinstance(x, dict | list) for x in doc):  # a tuple row: kline, book level
            if len(doc) != len(sim):
                self.types[path] = f"docs row of {len(doc)}, simulator row of {len(sim)}"
            for i, (d, s) in enumerate(zip(doc, sim, strict=False)):
                self.compare(d, s, f"{path}[{i}]")
            return
        for row in sim:
            self.compare(doc[0], row, path)

    def _empty(self, doc: str, sim: str, path: str) -> None:
        doc_num, sim_num = bool(NUMBER.match(doc)), bool(NUMBER.match(sim))
        if doc_num and sim == "":
            self.empties[path] = f"docs {doc!r} (a number), simulator \"\""
        elif doc == "" and sim_num and not sim.strip("0.-"):
            self.empties[path] = f"docs \"\", simulator {sim!r} (a zero)"
