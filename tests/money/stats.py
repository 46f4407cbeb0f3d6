"""What a run of the money model saw: examples, steps, rules run, and each broken promise's first example (its
setup and steps, to replay and shrink)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
Step = tuple[str, dict[str, Any]]


@dataclass
class Found:
    """The first example that broke a promise."""

    example: int
    step: int  # of the run
    step_in_example: int
    setup: Any
    trace: list[Step]
    text: str


@dataclass
class Stats:
    examples: int = 0
    steps: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    found: dict[str, Found] = field(default_factory=dict)  # promise (exception name) → its first break
    broken: Counter[str] = field(default_factory=Counter)  # promise → examples that broke it (hunt mode)
    hunt: bool = False  # a broken promise ends its example quietly and the run goes on (the negative control)
    on_first: Callable[[str, Found], object] | None = None
    on_example: Callable[[int], object] | None = None

    def reset(self, hunt: bool = False) -> None:
        self.examples = self.steps = 0
        self.rules.clear()
        self.found.clear()
        self.broken.clear()
        self.hunt = hunt
        self.on_first = self.on_example = None


STATS = Stats()


def counted(rule_fn: F) -> F:
    """Count each rule's runs and keep the example's steps (the machine's ``trace``)."""

    @functools.wraps(rule_fn)
    def run(self: Any, **kwargs: Any) -> Any:
        STATS.rules[rule_fn.__name__] += 1
        self.trace.append((rule_fn.__name__, dict(kwargs)))
        return rule_fn(self, **kwargs)

    return run  # type: ignore[return-value]  # functools.wraps keeps the signature hypothesis reads
