"""A trading tick followed call by call (``python -m bench calls``): the calls never run up the package order and
storage never calls back into the core (the Journal's parts once did, through forwarding lambdas)."""

from __future__ import annotations

import asyncio

from bench.calls import follow_ticks


def test_a_tick_calls_only_down_the_package_order() -> None:
    entry, manage = asyncio.run(follow_ticks())
    for f in (entry, manage):
        assert f.upward == 0 and f.storage_to_core == 0
        assert f.core_to_storage > 0  # the tracer does see the journal (the check above can fail)
        assert f.back_up <= 3, f.back_up_pairs  # a settings getter and a generator, no forwarding layer
