"""The match reminders' questions: which matches are still to be reminded, whether a reminder
still holds, and which reminders are already in the event log. Never commit: the service owns
the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.models import EventLogEntry, Match, RaceRoom, RaceStatus, Tournament

REMINDABLE = (RaceStatus.SCHEDULED.value, RaceStatus.ROOM_OPEN.value)
"""A match in one of these has not started: neither under way, finished nor cancelled."""
_IN_CHUNK = 1000  # ids per statement: both drivers cap a statement's parameters
STARTED_ROOM = ("in_progress", "finished")  # racetime's statuses of a race that has started


def _room_started() -> ColumnElement[bool]:
    return exists().where(
        col(RaceRoom.match_id) == col(Match.id), col(RaceRoom.last_status).in_(STARTED_ROOM)
    )


def _remindable() -> Select[Match, Tournament]:
    """Timed matches of active tournaments that have not started (nor been called off)."""
    return (
        select(Match, Tournament)
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(
            col(Match.status).in_(REMINDABLE),
            col(Match.scheduled_at).is_not(None),
            col(Tournament.is_active).is_(True),
            ~_room_started(),
        )
    )


async def awaiting_reminders(
    session: AsyncSession, *, after: datetime, match_id: int | None = None,
    tournament_id: int | None = None,
) -> list[tuple[Match, Tournament]]:
    """Remindable matches (one, a tournament's, or all) that start after ``after``."""
    query = _remindable().where(col(Match.scheduled_at) > after)
    if match_id is not None:
        query = query.where(col(Match.id) == match_id)
    if tournament_id is not None:
        query = query.where(col(Match.tournament_id) == tournament_id)
    result = await session.execute(query)
    return [(match, tournament) for match, tournament in result.all()]


async def remindable_match(
    session: AsyncSession, match_id: int, *, for_update: bool = False
) -> tuple[Match, Tournament] | None:
    """The match if it is still to be reminded of; ``for_update`` locks its row (PostgreSQL),
    so a reminder and a reschedule of one match serialise."""
    query = _remindable().where(col(Match.id) == match_id)
    if for_update:
        query = query.with_for_update(of=Match)
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


async def tournament_matches(session: AsyncSession, tournament_id: int) -> list[int]:
    """A tournament's matches that may still be reminded of (whatever their time)."""
    result = await session.execute(
        select(col(Match.id)).where(
            col(Match.tournament_id) == tournament_id, col(Match.status).in_(REMINDABLE)
        )
    )
    return [match_id for match_id in result.scalars() if match_id is not None]


async def logged(session: AsyncSession, event_ids: Iterable[str]) -> set[str]:
    """Which of ``event_ids`` the event log holds."""
    wanted = sorted(set(event_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        result = await session.execute(
            select(col(EventLogEntry.event_id)).where(col(EventLogEntry.event_id).in_(chunk))
        )
        found.update(result.scalars())
    return found


__all__ = [
    "REMINDABLE",
    "awaiting_reminders",
    "logged",
    "remindable_match",
    "tournament_matches",
]
