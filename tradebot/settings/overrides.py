"""Setting changes by dotted path ("risk.sl_atr", "strategy.ema.fast"): lookup, validation and apply, pure."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from tradebot.sizing.risk import RiskParams
from tradebot.strategy.params import StrategyParams

ROOTS = ("risk", "strategy")


def _walk(root: object, parts: list[str]) -> object:
    node = root
    for part in parts:
        if isinstance(node, BaseModel) and part in type(node).model_fields:
            node = getattr(node, part)
        elif isinstance(node, list | tuple) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(part)
    return node


def current_value(path: str, risk: RiskParams, strategy: StrategyParams) -> object:
    """The value at ``path`` (``risk.X`` or ``strategy.X.Y``); KeyError naming the first unknown part."""
    head, _, rest = path.partition(".")
    if head not in ROOTS or not rest:
        raise KeyError(head)
    value = _walk(risk if head == "risk" else strategy, rest.split("."))
    if isinstance(value, BaseModel | list | tuple):
        raise KeyError(f"{path} is a table, not a value")
    return value


def coerce(path: str, value: object, like: object) -> object:
    """``value`` in the type of the setting it replaces (Decimal money/ATR multiples stay exact)."""
    if isinstance(like, bool):
        return bool(value)
    if isinstance(like, Decimal):
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if isinstance(like, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _set(tree: Any, parts: list[str], value: object) -> None:
    for part in parts[:-1]:
        tree = tree[int(part)] if isinstance(tree, list) else tree[part]
    last = parts[-1]
    if isinstance(tree, list):
        tree[int(last)] = value
    else:
        tree[last] = value


def apply_changes(risk: RiskParams, strategy: StrategyParams,
                  changes: Mapping[str, object]) -> tuple[RiskParams, StrategyParams]:
    """New (risk, strategy) with ``changes`` applied and every rule re-checked (pydantic ValidationError if not)."""
    trees = {"risk": risk.model_dump(), "strategy": strategy.model_dump()}
    for path, value in changes.items():
        like = current_value(path, risk, strategy)
        head, _, rest = path.partition(".")
        _set(trees[head], rest.split("."), coerce(path, value, like))
    new_risk = RiskParams.model_validate(trees["risk"]) if any(p.startswith("risk.") for p in changes) else risk
    new_strategy = (StrategyParams.model_validate(trees["strategy"])
                    if any(p.startswith("strategy.") for p in changes) else strategy)
    return new_risk, new_strategy


def as_plain(value: object) -> object:
    """JSON/TOML-friendly value: Decimal as int or float, everything else as is."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 10**15 else float(value)
    return value


def toml_snippet(changes: Mapping[str, object]) -> str:
    """Ready-to-paste TOML: one table per section, keys as they appear in config.example.toml."""
    tables: dict[str, list[str]] = {}
    for path in changes:
        table, _, key = path.rpartition(".")
        tables.setdefault(table, []).append(f"{key} = {_toml_value(as_plain(changes[path]))}")
    out = []
    for table in sorted(tables):
        lines = sorted(tables[table])
        header = table if not any(p.isdigit() for p in table.split(".")) else f"# {table} (edit that list entry)"
        out.append(f"[{header}]" if not header.startswith("#") else header)
        out.extend(lines)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(round(v, 10))
    return str(v)
