"""The rate limiter's window, on a clock the test moves (no waiting)."""

from __future__ import annotations

import pytest

from core.clock import ManualClock
from web.rate_limit import RateLimiter


async def test_the_window_refuses_past_the_limit_and_resets() -> None:
    clock = ManualClock()
    limiter = RateLimiter(2, per_seconds=60, clock=clock)
    assert limiter.hit(1) is None
    assert limiter.hit(1) is None
    assert limiter.hit(1) == 60
    assert limiter.hit(2) is None  # another token has its own window
    await clock.advance(59.5)
    assert limiter.hit(1) == 1
    await clock.advance(0.5)
    assert limiter.hit(1) is None


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        RateLimiter(0, clock=ManualClock())
