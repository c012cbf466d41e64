"""Predicates for :meth:`rehearsal.stage.Stage.expect_event` about one racer in a room."""

from __future__ import annotations

from collections.abc import Callable

from core.events import RacetimeEntrantEvent


def entrant(
    user: str, *, room: str | None = None, status: str | None = None
) -> Callable[[RacetimeEntrantEvent], bool]:
    """The racer ``user``'s event (in ``room``; with the new ``status``, when given)."""

    def matches(event: RacetimeEntrantEvent) -> bool:
        return (
            event.racetime_user_id == user
            and (room is None or event.room_slug == room)
            and (status is None or getattr(event, "new_status", None) == status)
        )

    return matches
