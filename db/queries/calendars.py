"""Calendar feeds: their secret URLs and the matches each one shows. Never commit: the
service owns the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import (
    CalendarFeed,
    CalendarMatchRevision,
    ClaimState,
    Match,
    MatchPlayer,
    MatchRoomClaim,
    RaceRoom,
    Tournament,
    User,
)
from db.queries._upsert import dialect_insert


async def live_feed_by_hash(session: AsyncSession, token_hash: str) -> CalendarFeed | None:
    result = await session.execute(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == token_hash, col(CalendarFeed.revoked_at).is_(None)
        )
    )
    return result.scalar_one_or_none()


async def live_feed_of(
    session: AsyncSession,
    *,
    tournament_id: int | None = None,
    user_id: int | None = None,
    lock: bool = True,
) -> CalendarFeed | None:
    """The live feed of a tournament or of a user (exactly one of the two is given); ``lock``:
    the row is locked for a change (a reader passes False)."""
    statement = select(CalendarFeed).where(col(CalendarFeed.revoked_at).is_(None))
    if tournament_id is not None:
        statement = statement.where(CalendarFeed.tournament_id == tournament_id)
    else:
        statement = statement.where(CalendarFeed.user_id == user_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def revoke_feed(session: AsyncSession, feed_id: int, when: datetime) -> None:
    await session.execute(
        update(CalendarFeed)
        .where(col(CalendarFeed.id) == feed_id, col(CalendarFeed.revoked_at).is_(None))
        .values(revoked_at=when)
    )


async def dated_matches(
    session: AsyncSession, *, tournament_id: int | None = None, user_id: int | None = None
) -> list[tuple[Match, Tournament]]:
    """The matches with a time of one tournament, or of one user's (in every server), by
    time."""
    statement = (
        select(Match, Tournament)
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(col(Match.scheduled_at).is_not(None))
    )
    if tournament_id is not None:
        statement = statement.where(Match.tournament_id == tournament_id)
    else:
        mine = select(MatchPlayer.match_id).where(MatchPlayer.user_id == user_id)
        statement = statement.where(col(Match.id).in_(mine))
    result = await session.execute(statement.order_by(col(Match.scheduled_at), col(Match.id)))
    return [(match, tournament) for match, tournament in result.all()]


async def players_of_matches(
    session: AsyncSession, match_ids: Collection[int]
) -> dict[int, list[User]]:
    """Each match's players, in the order they were entered."""
    found: dict[int, list[User]] = defaultdict(list)
    if not match_ids:
        return found
    result = await session.execute(
        select(MatchPlayer.match_id, User)
        .join(User, col(User.id) == col(MatchPlayer.user_id))
        .where(col(MatchPlayer.match_id).in_(match_ids))
        .order_by(col(MatchPlayer.id))
    )
    for match_id, user in result.all():
        found[match_id].append(user)
    return found


async def rooms_of_matches(
    session: AsyncSession, match_ids: Collection[int]
) -> dict[int, tuple[str, str]]:
    """``(category, slug)`` of each match's open room: the room RaceDesk watches, else a
    claim that opened one."""
    if not match_ids:
        return {}
    rooms: dict[int, tuple[str, str]] = {}
    claims = await session.execute(
        select(MatchRoomClaim).where(
            col(MatchRoomClaim.match_id).in_(match_ids),
            MatchRoomClaim.state == ClaimState.OPENED.value,
            col(MatchRoomClaim.slug).is_not(None),
        )
    )
    for claim in claims.scalars():
        assert claim.slug is not None
        rooms[claim.match_id] = (claim.category, claim.slug)
    watched = await session.execute(
        select(RaceRoom).where(col(RaceRoom.match_id).in_(match_ids))
    )
    for room in watched.scalars():
        assert room.match_id is not None
        rooms[room.match_id] = (room.category, room.slug)
    return rooms


async def revisions_of(
    session: AsyncSession, match_ids: Collection[int]
) -> dict[int, CalendarMatchRevision]:
    if not match_ids:
        return {}
    result = await session.execute(
        select(CalendarMatchRevision).where(col(CalendarMatchRevision.match_id).in_(match_ids))
    )
    return {revision.match_id: revision for revision in result.scalars()}


async def add_revision(
    session: AsyncSession, match_id: int, fingerprint: str, when: datetime
) -> None:
    """A match's first revision (0); a concurrent first one wins, this one is dropped."""
    statement = dialect_insert(session, CalendarMatchRevision).values(
        match_id=match_id, fingerprint=fingerprint, sequence=0, changed_at=when
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["match_id"]))


async def bump_revision(
    session: AsyncSession, match_id: int, seen: str, fingerprint: str, when: datetime
) -> None:
    """The next revision, if the match's event still reads ``seen`` (else another request
    has already counted this change)."""
    await session.execute(
        update(CalendarMatchRevision)
        .where(
            col(CalendarMatchRevision.match_id) == match_id,
            col(CalendarMatchRevision.fingerprint) == seen,
        )
        .values(
            fingerprint=fingerprint, sequence=CalendarMatchRevision.sequence + 1,
            changed_at=when,
        )
    )
