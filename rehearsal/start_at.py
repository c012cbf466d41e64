"""``--start-at``: the rehearsal played as if it were another moment (a daylight saving change,
29 February, the guides' fixed instant), so nothing it shows depends on today's date.

The whole process's wall clock starts at that instant and runs at normal speed
(time-machine moves ``time.time`` and ``datetime.now`` for every part at once: RaceDesk, the
fake racetime.gg, the simulated Discord); ``time.monotonic``, which asyncio waits by, is left
alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import time_machine


class StartAtError(ValueError):
    """A ``--start-at`` value that is not an instant; the message says what to write."""


def parse_start_at(text: str) -> datetime:
    """``2026-03-29T00:30:00Z`` (or with an offset) as aware UTC; a time without its zone is
    refused rather than guessed."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise StartAtError(
            f"--start-at {text!r} is not a date and time; write it as ISO 8601 with its zone, "
            "e.g. 2026-03-29T00:30:00Z"
        ) from None
    if moment.tzinfo is None:
        raise StartAtError(
            f"--start-at {text!r} has no time zone; add one, e.g. {text.strip()}Z for UTC"
        )
    return moment.astimezone(UTC)


@contextlib.contextmanager
def started_at(moment: datetime | None) -> Iterator[None]:
    """Inside, the wall clock starts at ``moment`` and runs on (nothing changes for None)."""
    if moment is None:
        yield
        return
    with time_machine.travel(moment, tick=True):
        yield
