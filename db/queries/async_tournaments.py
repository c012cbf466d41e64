"""Async tournaments, their pools, participants, live races and pool runs. Never commit: the
service owns the transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import (
    AsyncLiveRace,
    AsyncParticipant,
    AsyncPool,
    AsyncPoolRun,
    AsyncTournament,
    ClaimState,
    RaceStatus,
    User,
)
from db.name_key import name_key
from db.queries._tables import affected_rows
from db.queries.tournaments import _like_escape


async def tournament_named(
    session: AsyncSession, guild_id: int, name: str
) -> AsyncTournament | None:
    """The server's async tournament called ``name``, ignoring case."""
    result = await session.execute(
        select(AsyncTournament).where(
            col(AsyncTournament.guild_id) == guild_id,
            col(AsyncTournament.name_key) == name_key(name),
        )
    )
    return result.scalars().first()


async def list_tournaments(
    session: AsyncSession, guild_id: int, *, include_closed: bool
) -> list[AsyncTournament]:
    statement = select(AsyncTournament).where(col(AsyncTournament.guild_id) == guild_id)
    if not include_closed:
        statement = statement.where(col(AsyncTournament.is_active).is_(True))
    result = await session.execute(
        statement.order_by(
            col(AsyncTournament.is_active).desc(), col(AsyncTournament.name_key)
        )
    )
    return list(result.scalars())


async def search_names(
    session: AsyncSession, guild_id: int, typed: str, *, limit: int = 25
) -> list[str]:
    result = await session.execute(
        select(col(AsyncTournament.name))
        .where(
            col(AsyncTournament.guild_id) == guild_id,
            col(AsyncTournament.is_active).is_(True),
            col(AsyncTournament.name_key).like(
                f"%{_like_escape(name_key(typed))}%", escape="\\"
            ),
        )
        .order_by(col(AsyncTournament.name_key))
        .limit(limit)
    )
    return list(result.scalars())


async def pools_of(session: AsyncSession, tournament_id: int) -> list[AsyncPool]:
    result = await session.execute(
        select(AsyncPool).where(col(AsyncPool.tournament_id) == tournament_id).order_by(
            col(AsyncPool.id)
        )
    )
    return list(result.scalars())


async def pool_named(session: AsyncSession, tournament_id: int, name: str) -> AsyncPool | None:
    result = await session.execute(
        select(AsyncPool).where(
            col(AsyncPool.tournament_id) == tournament_id,
            col(AsyncPool.name_key) == name_key(name),
        )
    )
    return result.scalars().first()


async def participant(
    session: AsyncSession, tournament_id: int, user_id: int
) -> AsyncParticipant | None:
    result = await session.execute(
        select(AsyncParticipant).where(
            col(AsyncParticipant.tournament_id) == tournament_id,
            col(AsyncParticipant.user_id) == user_id,
        )
    )
    return result.scalar_one_or_none()


async def participants_of(
    session: AsyncSession, tournament_id: int
) -> list[tuple[AsyncParticipant, User]]:
    """Every participant (those who left too), in the order they joined."""
    result = await session.execute(
        select(AsyncParticipant, User)
        .join(User, col(User.id) == col(AsyncParticipant.user_id))
        .where(col(AsyncParticipant.tournament_id) == tournament_id)
        .order_by(col(AsyncParticipant.id))
    )
    return [(row[0], row[1]) for row in result.all()]


async def runs_of_tournament(session: AsyncSession, tournament_id: int) -> list[AsyncPoolRun]:
    """Runs of the tournament's pools (and of its pool-less live races)."""
    result = await session.execute(
        select(AsyncPoolRun)
        .outerjoin(AsyncPool, col(AsyncPool.id) == col(AsyncPoolRun.pool_id))
        .outerjoin(AsyncLiveRace, col(AsyncLiveRace.id) == col(AsyncPoolRun.live_race_id))
        .where(
            (col(AsyncPool.tournament_id) == tournament_id)
            | (col(AsyncLiveRace.tournament_id) == tournament_id)
        )
        .order_by(col(AsyncPoolRun.id))
    )
    return list(result.scalars())


async def runs_of_race(session: AsyncSession, live_race_id: int) -> list[AsyncPoolRun]:
    result = await session.execute(
        select(AsyncPoolRun).where(col(AsyncPoolRun.live_race_id) == live_race_id).order_by(
            col(AsyncPoolRun.place).is_(None), col(AsyncPoolRun.place), col(AsyncPoolRun.id)
        )
    )
    return list(result.scalars())


async def delete_runs_of_race(session: AsyncSession, live_race_id: int) -> None:
    await session.execute(
        delete(AsyncPoolRun).where(col(AsyncPoolRun.live_race_id) == live_race_id)
    )


async def live_race_in_guild(
    session: AsyncSession, guild_id: int, live_race_id: int, *, for_update: bool = False
) -> tuple[AsyncLiveRace, AsyncTournament] | None:
    statement = (
        select(AsyncLiveRace, AsyncTournament)
        .join(AsyncTournament, col(AsyncTournament.id) == col(AsyncLiveRace.tournament_id))
        .where(col(AsyncLiveRace.id) == live_race_id, col(AsyncTournament.guild_id) == guild_id)
    )
    if for_update:
        statement = statement.with_for_update(of=AsyncLiveRace)
    row = (await session.execute(statement)).first()
    return (row[0], row[1]) if row is not None else None


async def live_race(
    session: AsyncSession, live_race_id: int
) -> tuple[AsyncLiveRace, AsyncTournament, AsyncPool | None] | None:
    """A live race with its tournament and pool."""
    row = (
        await session.execute(
            select(AsyncLiveRace, AsyncTournament)
            .join(AsyncTournament, col(AsyncTournament.id) == col(AsyncLiveRace.tournament_id))
            .where(col(AsyncLiveRace.id) == live_race_id)
        )
    ).first()
    if row is None:
        return None
    race, tournament = row[0], row[1]
    pool = await session.get(AsyncPool, race.pool_id) if race.pool_id is not None else None
    return race, tournament, pool


async def live_races_of_guild(
    session: AsyncSession, guild_id: int, *, tournament_id: int | None, limit: int
) -> list[tuple[AsyncLiveRace, AsyncTournament]]:
    """The server's live races, latest first."""
    statement = (
        select(AsyncLiveRace, AsyncTournament)
        .join(AsyncTournament, col(AsyncTournament.id) == col(AsyncLiveRace.tournament_id))
        .where(col(AsyncTournament.guild_id) == guild_id)
    )
    if tournament_id is not None:
        statement = statement.where(col(AsyncLiveRace.tournament_id) == tournament_id)
    result = await session.execute(
        statement.order_by(col(AsyncLiveRace.scheduled_at).desc(), col(AsyncLiveRace.id).desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in result.all()]


async def waiting_for_rooms(
    session: AsyncSession, live_race_id: int | None = None, *, retrying: str | None = None
) -> list[AsyncLiveRace]:
    """Scheduled live races of active tournaments with no claim on a room and nothing wrong
    (but a room error the scheduler asks about again: ``retrying``, a LIKE pattern)."""
    error = col(AsyncLiveRace.room_error)
    no_error = error.is_(None) if retrying is None else or_(error.is_(None), error.like(retrying))
    statement = (
        select(AsyncLiveRace)
        .join(AsyncTournament, col(AsyncTournament.id) == col(AsyncLiveRace.tournament_id))
        .where(
            col(AsyncLiveRace.status) == RaceStatus.SCHEDULED.value,
            col(AsyncLiveRace.room_state).is_(None),
            no_error,
            col(AsyncTournament.is_active).is_(True),
        )
    )
    if live_race_id is not None:
        statement = statement.where(col(AsyncLiveRace.id) == live_race_id)
    return list((await session.execute(statement)).scalars())


async def claim_room(
    session: AsyncSession, live_race_id: int, now: datetime, *, retry_failed: bool,
    epoch: int | None = None,
) -> bool:
    """Claim the live race's room (``opening``): a conditional update, so of two callers (two
    tasks, two processes) exactly one wins. A ``failed`` claim is taken only when asked."""
    condition: ColumnElement[bool] = col(AsyncLiveRace.room_state).is_(None)
    if retry_failed:
        condition = condition | (col(AsyncLiveRace.room_state) == ClaimState.FAILED.value)
    result = await session.execute(
        update(AsyncLiveRace)
        .where(
            col(AsyncLiveRace.id) == live_race_id,
            col(AsyncLiveRace.status) == RaceStatus.SCHEDULED.value,
            condition,
        )
        .values(
            room_state=ClaimState.OPENING.value, room_claimed_at=now, room_error=None,
            room_claim_epoch=epoch,
        )
    )
    return bool(affected_rows(result))


async def renew_claim(
    session: AsyncSession, live_race_id: int, now: datetime, *, epoch: int | None = None
) -> None:
    await session.execute(
        update(AsyncLiveRace)
        .where(col(AsyncLiveRace.id) == live_race_id)
        .values(room_claimed_at=now, room_claim_epoch=epoch)
    )


async def take_over_claim(
    session: AsyncSession, live_race_id: int, seen: datetime | None, now: datetime,
    *, epoch: int | None = None,
) -> bool:
    """Take an ``opening`` claim whose holder stopped renewing it, or no longer leads (one
    winner)."""
    result = await session.execute(
        update(AsyncLiveRace)
        .where(
            col(AsyncLiveRace.id) == live_race_id,
            col(AsyncLiveRace.room_state) == ClaimState.OPENING.value,
            col(AsyncLiveRace.room_claimed_at) == seen,
        )
        .values(room_claimed_at=now, room_claim_epoch=epoch)
    )
    return bool(affected_rows(result))


async def races_in_room_state(session: AsyncSession, state: ClaimState) -> list[AsyncLiveRace]:
    result = await session.execute(
        select(AsyncLiveRace).where(col(AsyncLiveRace.room_state) == state.value).order_by(
            col(AsyncLiveRace.id)
        )
    )
    return list(result.scalars())
