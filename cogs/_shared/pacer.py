"""Evenly spaced requests: at most ``per_second`` a second, with no burst.

Discord's global limit counts every request in any second; a leaky bucket that allows a
burst, or one that wakes its waiters late, either meets 429s or wastes the budget. Each
caller reserves the next free slot and sleeps until it, so the average rate is exact and
the order is first come, first served.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Pacer:
    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._interval = 1.0 / per_second
        self._next_slot = 0.0

    async def __aenter__(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None
