"""A small fixed-window request limit per API token, kept in memory.

In memory on purpose: it guards this process against a runaway client, it is not a quota
(a restart forgives everyone, which is fine for a limit of a few dozen calls a minute).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.clock import Clock


@dataclass(slots=True)
class _Window:
    started: float
    count: int


class RateLimiter:
    def __init__(self, limit: int, *, per_seconds: float = 60.0, clock: Clock) -> None:
        if limit < 1 or per_seconds <= 0:
            raise ValueError("a rate limit needs limit >= 1 and per_seconds > 0")
        self.limit = limit
        self.per_seconds = per_seconds
        self._clock = clock
        self._windows: dict[int, _Window] = {}

    def hit(self, key: int) -> int | None:
        """Count one request for ``key``; None if allowed, else whole seconds to wait."""
        now = self._clock.monotonic()
        window = self._windows.get(key)
        if window is None or now - window.started >= self.per_seconds:
            self._windows[key] = _Window(now, 1)
            return None
        if window.count < self.limit:
            window.count += 1
            return None
        return max(1, math.ceil(window.started + self.per_seconds - now))
