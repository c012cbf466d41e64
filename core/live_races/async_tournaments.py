"""Async tournaments: created and closed by organizers, their pools, and who plays them.

Players join and leave themselves; an organizer can add or remove anyone (the cog checks who
asks). Leaving keeps the participant's row and runs: coming back makes them active again.
Every change is audited in its transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.errors import NotFoundError, UserFacingError
from core.racetime_bots.category_slug import normalise_category
from core.tournaments.tournaments import check_category, clean_goal, clean_name
from db.models import AsyncParticipant, AsyncPool, AsyncPoolRun, AsyncTournament
from db.queries import async_tournaments as queries
from db.queries.users import get_or_create_user_by_discord_id

log = logging.getLogger(__name__)

DESCRIPTION_MAX = 1000
# The key of ``AsyncTournament.settings`` that makes its page public (``core.pages``).
PUBLIC_KEY = "public"


def is_public(tournament: AsyncTournament) -> bool:
    """Anyone may read the tournament's page on the web (off unless organizers turned it on)."""
    return bool((tournament.settings or {}).get(PUBLIC_KEY, False))


@dataclass(frozen=True, slots=True)
class PoolInfo:
    id: int
    name: str
    description: str | None
    runs: int  # runs recorded for it


@dataclass(frozen=True, slots=True)
class AsyncTournamentInfo:
    id: int
    guild_id: int
    name: str
    category: str
    goal: str | None
    active: bool
    pools: tuple[PoolInfo, ...]
    participants: int  # active ones
    public: bool = False  # anyone may read its page on the web (``core.pages``)


@dataclass(frozen=True, slots=True)
class RunInfo:
    pool: str | None
    status: str
    place: int | None
    finish_time: timedelta | None


@dataclass(frozen=True, slots=True)
class ParticipantInfo:
    discord_id: int
    racetime_name: str | None
    pool: str | None  # the one pool they play; ``None``: all
    active: bool
    runs: tuple[RunInfo, ...]


@dataclass(frozen=True, slots=True)
class PublicSetting:
    """The outcome of :meth:`AsyncTournamentService.set_public`."""

    id: int
    tournament: str
    public: bool
    changed: bool


@dataclass(frozen=True, slots=True)
class Membership:
    """The outcome of a join or leave: who, which tournament, and whether anything changed."""

    tournament: str
    discord_id: int
    changed: bool
    pool: str | None = None


class AsyncTournamentService:
    """A server's async tournaments; organizers (the access policy says who) run them, and
    anyone joins or leaves for themselves."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditService,
        *,
        access: AccessPolicy,
    ) -> None:
        self._access = access
        self._sessionmaker = sessionmaker
        self._audit = audit

    # -- tournaments -------------------------------------------------------------------------

    async def create(
        self, guild_id: int, name: str, *, category: str, actor: Actor,
        goal: str | None = None,
    ) -> AsyncTournamentInfo:
        """A new async tournament whose live races open rooms in ``category``."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        name, category, goal = clean_name(name), normalise_category(category), clean_goal(goal)
        async with self._sessionmaker.begin() as session:
            if await queries.tournament_named(session, guild_id, name) is not None:
                raise UserFacingError(
                    f"This server already has an async tournament called **{name}**. "
                    "Choose another name."
                )
            await check_category(session, guild_id, category)
            tournament = AsyncTournament(
                guild_id=guild_id, name=name, racetime_category=category, goal=goal
            )
            session.add(tournament)
            await session.flush()
            await self._audit.record(
                session, "async.create", actor_discord_id=actor.discord_id, guild_id=guild_id,
                details={"tournament_id": tournament.id, "name": name, "category": category,
                         "goal": goal},
            )
            return await self._info(session, tournament)

    async def info(self, guild_id: int, name: str, *, actor: Actor) -> AsyncTournamentInfo:
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker() as session:
            return await self._info(session, await self.find(session, guild_id, name))

    async def list_tournaments(
        self, guild_id: int, *, actor: Actor, include_closed: bool = False
    ) -> list[AsyncTournamentInfo]:
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker() as session:
            rows = await queries.list_tournaments(session, guild_id, include_closed=include_closed)
            return [await self._info(session, row) for row in rows]

    async def close(self, guild_id: int, name: str, *, actor: Actor) -> AsyncTournamentInfo:
        """Close a tournament: no more live races open rooms for it, nobody joins."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker.begin() as session:
            tournament = await self.find(session, guild_id, name, open_only=True)
            tournament.is_active = False
            await self._audit.record(
                session, "async.close", actor_discord_id=actor.discord_id, guild_id=guild_id,
                details={"tournament_id": tournament.id},
            )
            return await self._info(session, tournament)

    async def set_public(
        self, guild_id: int, name: str, public: bool, *, actor: Actor
    ) -> PublicSetting:
        """Let anyone read the tournament's page on the web (``public``), or take it down.
        A closed tournament may change it too: its final leaderboard is worth sharing."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker.begin() as session:
            tournament = await self.find(session, guild_id, name)
            assert tournament.id is not None
            changed = is_public(tournament) != public
            if changed:
                # A new object: the JSON column notices a replaced value, not a mutated one.
                tournament.settings = {**(tournament.settings or {}), PUBLIC_KEY: public}
                await self._audit.record(
                    session, "async.public", actor_discord_id=actor.discord_id,
                    guild_id=guild_id,
                    details={"tournament_id": tournament.id, "public": public},
                )
            return PublicSetting(tournament.id, tournament.name, public, changed)

    async def suggest_names(self, guild_id: int, typed: str) -> list[str]:
        async with self._sessionmaker() as session:
            return await queries.search_names(session, guild_id, typed.strip())

    # -- pools -------------------------------------------------------------------------------

    async def add_pool(
        self, guild_id: int, tournament: str, name: str, *, actor: Actor,
        description: str | None = None,
    ) -> PoolInfo:
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        name = clean_name(name)
        description = (description or "").strip() or None
        if description is not None and len(description) > DESCRIPTION_MAX:
            raise UserFacingError(
                f"A pool's description can be at most {DESCRIPTION_MAX} characters."
            )
        async with self._sessionmaker.begin() as session:
            found = await self.find(session, guild_id, tournament, open_only=True)
            assert found.id is not None
            if await queries.pool_named(session, found.id, name) is not None:
                raise UserFacingError(f"**{found.name}** already has a pool called **{name}**.")
            pool = AsyncPool(tournament_id=found.id, name=name, description=description)
            session.add(pool)
            await session.flush()
            await self._audit.record(
                session, "async.pool.add", actor_discord_id=actor.discord_id, guild_id=guild_id,
                details={"tournament_id": found.id, "pool_id": pool.id, "name": name},
            )
            return _pool_info(pool, [])

    async def pools(self, guild_id: int, tournament: str) -> tuple[str, list[PoolInfo]]:
        async with self._sessionmaker() as session:
            found = await self.find(session, guild_id, tournament)
            return found.name, list((await self._info(session, found)).pools)

    # -- participants ------------------------------------------------------------------------

    async def join(
        self, guild_id: int, tournament: str, discord_id: int, *, actor: Actor,
        pool: str | None = None,
    ) -> Membership:
        """Register ``discord_id`` (again, if they left), for one pool when ``pool`` is given:
        anyone themselves, organizers anyone."""
        await self._check_for_whom(actor, guild_id, discord_id)
        async with self._sessionmaker.begin() as session:
            found = await self.find(session, guild_id, tournament, open_only=True)
            assert found.id is not None
            pool_row = await self.find_pool(session, found, pool) if pool else None
            user = await get_or_create_user_by_discord_id(session, discord_id)
            assert user.id is not None
            row = await queries.participant(session, found.id, user.id)
            pool_id = pool_row.id if pool_row is not None else None
            if row is not None and row.is_active and row.pool_id == pool_id:
                return Membership(found.name, discord_id, False, _name(pool_row))
            if row is None:
                row = AsyncParticipant(tournament_id=found.id, user_id=user.id)
                session.add(row)
            row.is_active, row.pool_id = True, pool_id
            await self._audit.record(
                session, "async.join", actor_discord_id=actor.discord_id, guild_id=guild_id,
                details={"tournament_id": found.id, "discord_id": str(discord_id),
                         "pool_id": pool_id},
            )
            return Membership(found.name, discord_id, True, _name(pool_row))

    async def leave(
        self, guild_id: int, tournament: str, discord_id: int, *, actor: Actor
    ) -> Membership:
        """Unregister ``discord_id`` (their runs stay): anyone themselves, organizers anyone."""
        await self._check_for_whom(actor, guild_id, discord_id)
        async with self._sessionmaker.begin() as session:
            found = await self.find(session, guild_id, tournament)
            assert found.id is not None
            user = await get_or_create_user_by_discord_id(session, discord_id)
            assert user.id is not None
            row = await queries.participant(session, found.id, user.id)
            if row is None or not row.is_active:
                return Membership(found.name, discord_id, False)
            row.is_active = False
            await self._audit.record(
                session, "async.leave", actor_discord_id=actor.discord_id, guild_id=guild_id,
                details={"tournament_id": found.id, "discord_id": str(discord_id)},
            )
            return Membership(found.name, discord_id, True)

    async def participants(
        self, guild_id: int, tournament: str
    ) -> tuple[str, list[ParticipantInfo]]:
        """The tournament's name and its participants (those who left last)."""
        async with self._sessionmaker() as session:
            found = await self.find(session, guild_id, tournament)
            assert found.id is not None
            pools = {p.id: p.name for p in await queries.pools_of(session, found.id)}
            runs = await queries.runs_of_tournament(session, found.id)
            shown = [
                ParticipantInfo(
                    discord_id=user.discord_id,
                    racetime_name=user.racetime_name,
                    pool=pools.get(participant.pool_id) if participant.pool_id else None,
                    active=participant.is_active,
                    runs=tuple(
                        RunInfo(pools.get(run.pool_id) if run.pool_id else None, run.status,
                                run.place, run.finish_time)
                        for run in runs if run.user_id == user.id
                    ),
                )
                for participant, user in await queries.participants_of(session, found.id)
            ]
        return found.name, sorted(shown, key=lambda p: not p.active)

    # -- helpers -----------------------------------------------------------------------------

    async def _check_for_whom(self, actor: Actor, guild_id: int, discord_id: int) -> None:
        """Oneself (as a member of the server), or anyone (organizers)."""
        own = actor.is_person and actor.discord_id == discord_id
        permission = Permission.USE if own else Permission.MANAGE_TOURNAMENTS
        await self._access.require(actor, permission, guild_id)

    async def find(
        self, session: AsyncSession, guild_id: int, name: str, *, open_only: bool = False
    ) -> AsyncTournament:
        typed = " ".join(name.split())
        found = await queries.tournament_named(session, guild_id, typed)
        if found is None:
            raise NotFoundError(
                f"There is no async tournament called `{typed}` in this server. "
                "`/async list` shows them; `/async create` makes one."
            )
        if open_only and not found.is_active:
            raise UserFacingError(f"**{found.name}** is closed, so it can no longer change.")
        return found

    async def find_pool(
        self, session: AsyncSession, tournament: AsyncTournament, name: str
    ) -> AsyncPool:
        assert tournament.id is not None
        pool = await queries.pool_named(session, tournament.id, name)
        if pool is None:
            names = ", ".join(
                f"`{p.name}`" for p in await queries.pools_of(session, tournament.id)
            )
            raise NotFoundError(
                f"**{tournament.name}** has no pool called `{name.strip()}`. "
                + (f"Its pools: {names}." if names else "It has no pools yet (`/async pool add`).")
            )
        return pool

    async def _info(
        self, session: AsyncSession, tournament: AsyncTournament
    ) -> AsyncTournamentInfo:
        assert tournament.id is not None
        runs = await queries.runs_of_tournament(session, tournament.id)
        participants = await queries.participants_of(session, tournament.id)
        return AsyncTournamentInfo(
            id=tournament.id,
            guild_id=tournament.guild_id,
            name=tournament.name,
            category=tournament.racetime_category,
            goal=tournament.goal,
            active=tournament.is_active,
            pools=tuple(
                _pool_info(pool, runs) for pool in await queries.pools_of(session, tournament.id)
            ),
            participants=sum(1 for participant, _ in participants if participant.is_active),
            public=is_public(tournament),
        )


def _pool_info(pool: AsyncPool, runs: list[AsyncPoolRun]) -> PoolInfo:
    assert pool.id is not None
    return PoolInfo(
        pool.id, pool.name, pool.description, sum(1 for run in runs if run.pool_id == pool.id)
    )


def _name(pool: AsyncPool | None) -> str | None:
    return pool.name if pool is not None else None
