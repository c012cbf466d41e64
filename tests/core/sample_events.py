"""Room events for tests of the event machinery, each with a version of its own (so a stable
``event_id`` that no other sample repeats), and a retry policy that does not wait."""

from __future__ import annotations

import itertools

from core.events import (
    RacetimeEntrantJoinedEvent,
    RacetimeRaceStatusChangedEvent,
    RetryPolicy,
)
from core.identity import SYSTEM_USER_ID

_versions = itertools.count(1)

NO_WAIT = RetryPolicy(attempts=3, base=0.001, cap=0.002)
# Generous bounds on waits that a broken part would turn into hangs (never timing asserts).
SETTLE_SECONDS = 10.0


def status(
    room: str, new: str = "open", version: int | None = None
) -> RacetimeRaceStatusChangedEvent:
    """Room ``room``'s race status became ``new`` (at a fresh version unless one is given)."""
    return RacetimeRaceStatusChangedEvent(
        category="alttpr",
        room_slug=room,
        room_name=f"alttpr/{room}",
        old_status=None,
        new_status=new,
        racetime_version=version if version is not None else next(_versions),
        user_id=SYSTEM_USER_ID,
    )


def joined(room: str, user: str) -> RacetimeEntrantJoinedEvent:
    """Racetime user ``user`` joined room ``room``."""
    return RacetimeEntrantJoinedEvent(
        category="alttpr",
        room_slug=room,
        room_name=f"alttpr/{room}",
        racetime_user_id=user,
        initial_status="not_ready",
        racetime_version=next(_versions),
    )
