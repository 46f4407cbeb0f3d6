"""One way for a test to wait on state another task or thread writes (stream callbacks, journal worker)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def until(probe: Callable[[], T], limit: float = 5.0, step: float = 0.01) -> T:
    """Poll ``probe`` until it returns something truthy and return that; TimeoutError after ``limit`` seconds."""
    async with asyncio.timeout(limit):
        while not (found := probe()):  # noqa: ASYNC110 - the state has no event to wait on
            await asyncio.sleep(step)
        return found
