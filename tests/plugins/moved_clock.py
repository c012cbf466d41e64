"""The whole session at another instant: ``RACEDESK_TEST_NOW=2040-02-29T22:30:00Z`` moves this
process's wall clock there (time-machine, ticking on), so a test or a product path that leans
on today's date fails in CI instead of on the day it stops being true. CI's SQLite run uses
the instant in ``.ci/run``; unset, the suite runs at the real time.

time-machine patches ``time.time`` and ``datetime.now`` (so ``SystemClock`` and ``utcnow``),
not ``time.monotonic``, so asyncio's timers keep real durations. Subprocesses (the rehearsal),
SQLite's and PostgreSQL's own clocks and the browser keep the real time.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import time_machine

ENV = "RACEDESK_TEST_NOW"
_moved_to = pytest.StashKey[datetime]()


def moved_instant(text: str) -> datetime:
    """``text`` (ISO 8601 with an offset or ``Z``) as an aware UTC datetime; a clear refusal
    otherwise, since a silently local instant would move the clock somewhere else."""
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise pytest.UsageError(
            f"{ENV}={text!r} is not an instant: write ISO 8601 with an offset, "
            "e.g. 2040-02-29T22:30:00Z"
        )
    return instant.astimezone(UTC)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    text = os.environ.get(ENV, "")
    if not text.strip():
        return
    instant = moved_instant(text)
    traveller = time_machine.travel(instant, tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)
    config.stash[_moved_to] = instant


def pytest_report_header(config: pytest.Config) -> str:
    instant = config.stash.get(_moved_to, None)
    if instant is None:
        return f"clock: real time ({ENV} unset)"
    return f"clock: moved to {instant:%A %Y-%m-%d %H:%M:%S} UTC ({ENV}), ticking"
