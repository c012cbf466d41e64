"""Exponential backoff with jitter, for reconnects and retries."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """``delay(n)`` for the n-th consecutive failure (0-based): ``base * factor**n``, capped,
    then scaled by a random factor in ``[1 - jitter, 1]`` so many rooms do not reconnect in
    lockstep. With the defaults the first retry comes within a second."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.5

    def delay(self, failures: int) -> float:
        raw = min(self.cap, self.base * self.factor ** min(failures, 32))
        return raw * (1.0 - self.jitter * random.random())  # noqa: S311 - not cryptographic
