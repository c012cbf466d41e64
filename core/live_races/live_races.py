"""Live races of async tournaments: scheduled by organizers, listed, looked up, cancelled and
deleted; who may take part and why the others may not.

Every change writes its rows, its audit entry and its event in one transaction (the event
becomes the participants' notifications and re-plans the room scheduler). Opening the room
is ``core.live_races.rooms``'s job; following the race is
``core.live_races.results``'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.clock import Clock
from core.errors import NotFoundError, UserFacingError
from core.event_store.event_log import DatabaseEventLog
from core.events import AsyncLiveRaceCancelledEvent, AsyncLiveRaceCreatedEvent
from core.live_races import rules
from core.live_races.async_tournaments import AsyncTournamentService
from core.live_races.rooms import LiveRaceRooms
from core.rooms.match_rooms import RoomOpening
from core.times.formatting import utc_text
from core.tournaments.matches import (
    check_cancellable,
    check_future,
    clean_reason,
    match_id_from,
)
from core.tournaments.tournaments import clean_goal
from db.models import AsyncLiveRace, AsyncPool, AsyncTournament, ClaimState, RaceStatus, User
from db.queries import async_tournaments as queries
from db.queries.users import get_or_create_user_by_discord_id

log = logging.getLogger(__name__)

# How long before a live race its room opens (set per race), in minutes.
LIVE_RACE_ROOM_MINUTES_MIN, LIVE_RACE_ROOM_MINUTES_MAX, LIVE_RACE_ROOM_MINUTES_DEFAULT = 1, 120, 15
STATUS_EMOJI = {
    RaceStatus.SCHEDULED: "🗓️ Scheduled",
    RaceStatus.ROOM_OPEN: "🚪 Room Open",
    RaceStatus.IN_PROGRESS: "🏁 In Progress",
    RaceStatus.FINISHED: "✅ Completed",
    RaceStatus.CANCELLED: "❌ Cancelled",
}
DELETABLE = (RaceStatus.SCHEDULED, RaceStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class RaceRun:
    """A participant's result in a live race (recorded as their run of the pool)."""

    discord_id: int
    name: str
    status: str
    place: int | None
    finish_time: timedelta | None


@dataclass(frozen=True, slots=True)
class LiveRaceInfo:
    id: int
    guild_id: int
    tournament_id: int
    tournament: str
    pool: str | None
    status: RaceStatus
    scheduled_at: datetime
    room_open_minutes_before: int
    goal: str
    invitational: bool
    streaming_required: bool
    room_url: str | None
    room_error: str | None
    cancelled_reason: str | None
    eligible: int
    runs: tuple[RaceRun, ...] = ()

    @property
    def opens_at(self) -> datetime:
        return self.scheduled_at - timedelta(minutes=self.room_open_minutes_before)

    @property
    def status_text(self) -> str:
        return STATUS_EMOJI[self.status]


@dataclass(frozen=True, slots=True)
class Eligibility:
    discord_id: int
    racetime_name: str | None
    reason: str | None  # ``None``: eligible


def live_race_id_from(text: str) -> int:
    """The live race's id in ``3``, ``#3`` or a suggestion's label."""
    try:
        return match_id_from(text)
    except UserFacingError:
        raise UserFacingError(
            f"`{text.strip()}` is not a live race. Pick one from the suggestions, or give its "
            "number (`/liverace list` shows them)."
        ) from None


def check_live_race_room_minutes(minutes: int) -> int:
    """How long before a live race its room opens: 1 to 120 minutes."""
    if not LIVE_RACE_ROOM_MINUTES_MIN <= minutes <= LIVE_RACE_ROOM_MINUTES_MAX:
        raise UserFacingError(
            f"The room opens {LIVE_RACE_ROOM_MINUTES_MIN} to {LIVE_RACE_ROOM_MINUTES_MAX} "
            f"minutes before the race; {minutes} is outside that."
        )
    return minutes


class LiveRaceService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        audit: AuditService,
        tournaments: AsyncTournamentService,
        clock: Clock,
        *,
        access: AccessPolicy,
        rooms: LiveRaceRooms | None = None,
        racetime_url: str = "https://racetime.gg",
    ) -> None:
        self._access = access
        self._rooms = rooms
        self._sessionmaker = sessionmaker
        self._event_log = event_log
        self._audit = audit
        self._tournaments = tournaments
        self._clock = clock
        self._racetime_url = racetime_url.rstrip("/")

    # -- changing ----------------------------------------------------------------------------

    async def create(
        self,
        guild_id: int,
        tournament: str,
        when: datetime,
        *,
        actor: Actor,
        pool: str | None = None,
        goal: str | None = None,
        invitational: bool | None = None,
        streaming_required: bool | None = None,
        open_minutes_before: int | None = None,
    ) -> LiveRaceInfo:
        """A live race of ``tournament`` (of ``pool``, when given) at ``when``; the eligible
        participants are told."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        check_future(when, self._clock.now())
        minutes = check_live_race_room_minutes(
            LIVE_RACE_ROOM_MINUTES_DEFAULT if open_minutes_before is None
            else open_minutes_before
        )
        goal = clean_goal(goal)
        chosen = {"invitational": invitational, "streaming_required": streaming_required}
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            found = await self._tournaments.find(session, guild_id, tournament, open_only=True)
            pool_row = await self._tournaments.find_pool(session, found, pool) if pool else None
            creator = await _user(session, actor)
            race = AsyncLiveRace(
                tournament_id=found.id,  # type: ignore[arg-type]  # a stored tournament has its id
                pool_id=pool_row.id if pool_row is not None else None,
                scheduled_at=when,
                room_open_minutes_before=minutes,
                goal=goal,
                room_settings={k: v for k, v in chosen.items() if v is not None},
                created_by=creator.id,
            )
            session.add(race)
            await session.flush()
            assert race.id is not None
            info = await self._info(session, race, found, pool_row)
            await self._audit.record(
                session, "liverace.create", actor_discord_id=actor.discord_id, guild_id=guild_id,
                details={"live_race_id": race.id, "tournament_id": found.id,
                         "pool_id": race.pool_id, "scheduled_at": when.isoformat(),
                         "goal": goal, "open_minutes_before": minutes, **race.room_settings},
            )
            outbox.add(AsyncLiveRaceCreatedEvent(
                live_race_id=race.id, tournament_id=info.tournament_id, pool_id=race.pool_id,
                scheduled_at=when, participant_count=info.eligible,
                user_id=creator.id, occurred_at=self._clock.now(),
            ))
            return info

    async def cancel(
        self, guild_id: int, live_race_id: int, reason: str, *, actor: Actor
    ) -> LiveRaceInfo:
        """Call a live race off; the eligible participants are told ``reason``. An open room
        stays open on racetime, but its results no longer count."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        reason = clean_reason(reason)
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            race, tournament = await self._find(session, guild_id, live_race_id, for_update=True)
            check_cancellable(race.status, f"Live race #{live_race_id}", "its runs are recorded")
            race.status, race.cancelled_reason = RaceStatus.CANCELLED.value, reason
            await session.flush()
            canceller = await _user(session, actor)
            await self._audit.record(
                session, "liverace.cancel", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"live_race_id": live_race_id, "reason": reason},
            )
            info = await self._info(session, race, tournament)
            outbox.add(AsyncLiveRaceCancelledEvent(
                live_race_id=live_race_id, tournament_id=info.tournament_id,
                pool_id=race.pool_id, scheduled_at=race.scheduled_at, reason=reason,
                room_slug=race.racetime_slug, room_url=info.room_url,
                user_id=canceller.id, occurred_at=self._clock.now(),
            ))
            return info

    async def delete(self, guild_id: int, live_race_id: int, *, actor: Actor) -> None:
        """Remove a live race that is scheduled (its room not being opened) or cancelled."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        async with self._sessionmaker.begin() as session:
            race, _ = await self._find(session, guild_id, live_race_id, for_update=True)
            status = RaceStatus(race.status)
            if status not in DELETABLE or race.room_state == ClaimState.OPENING.value:
                shown = "🚪 having its room opened" if status in DELETABLE else STATUS_EMOJI[status]
                hint = (
                    " Its runs are recorded and stay." if status == RaceStatus.FINISHED
                    else " Cancel it first with `/liverace cancel`."
                )
                raise UserFacingError(
                    f"Live race #{live_race_id} is {shown}, so it "
                    "cannot be deleted: only scheduled or cancelled live races can." + hint
                )
            await self._audit.record(
                session, "liverace.delete", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"live_race_id": live_race_id},
            )
            await session.delete(race)

    async def open_room(
        self, guild_id: int, live_race_id: int, *, actor: Actor
    ) -> RoomOpening:
        """A moderator opens the live race's room now (or retries a failed opening)."""
        await self._access.require(actor, Permission.OPEN_ROOMS, guild_id)
        assert self._rooms is not None, "LiveRaceService was built without its rooms"
        async with self._sessionmaker.begin() as session:
            await self._find(session, guild_id, live_race_id)
            opener = await _user(session, actor)
            await self._audit.record(
                session, "liverace.open", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"live_race_id": live_race_id},
            )
        return await self._rooms.open_room(
            live_race_id, actor_user_id=opener.id, reason="manual", actor=actor
        )

    # -- reading -----------------------------------------------------------------------------

    async def info(self, guild_id: int, live_race_id: int) -> LiveRaceInfo:
        async with self._sessionmaker() as session:
            race, tournament = await self._find(session, guild_id, live_race_id)
            return await self._info(session, race, tournament)

    async def list_races(
        self, guild_id: int, tournament: str | None = None, *, limit: int = 25
    ) -> list[LiveRaceInfo]:
        """The server's live races (of one async tournament, when named), latest first."""
        async with self._sessionmaker() as session:
            tournament_id = None
            if tournament is not None:
                tournament_id = (await self._tournaments.find(session, guild_id, tournament)).id
            rows = await queries.live_races_of_guild(
                session, guild_id, tournament_id=tournament_id, limit=limit
            )
            return [await self._info(session, race, found) for race, found in rows]

    async def eligibility(
        self, guild_id: int, live_race_id: int
    ) -> tuple[LiveRaceInfo, list[Eligibility]]:
        """The live race and each participant of its tournament: eligible, or why not."""
        async with self._sessionmaker() as session:
            race, tournament = await self._find(session, guild_id, live_race_id)
            candidates = await rules.candidates(session, race)
            info = await self._info(session, race, tournament)
        return info, [
            Eligibility(c.user.discord_id, c.user.racetime_name, c.reason) for c in candidates
        ]

    async def check_in_guild(self, guild_id: int, live_race_id: int) -> None:
        """:class:`NotFoundError` unless the live race is this server's."""
        async with self._sessionmaker() as session:
            await self._find(session, guild_id, live_race_id)

    async def suggest(self, guild_id: int, typed: str) -> list[tuple[int, str]]:
        """(id, label) pairs for autocomplete: ``#3 · Winter Async · Pool A · 2026-12-01 19:00
        UTC``."""
        races = await self.list_races(guild_id)
        labels = [(race.id, _label(race)) for race in races]
        wanted = typed.strip().lower().lstrip("#")
        return [(i, label) for i, label in labels if wanted in label.lower()][:25]

    # -- helpers -----------------------------------------------------------------------------

    async def _find(
        self, session: AsyncSession, guild_id: int, live_race_id: int, *, for_update: bool = False
    ) -> tuple[AsyncLiveRace, AsyncTournament]:
        found = await queries.live_race_in_guild(
            session, guild_id, live_race_id, for_update=for_update
        )
        if found is None:
            raise NotFoundError(
                f"There is no live race #{live_race_id} in this server. `/liverace list` shows "
                "them."
            )
        return found

    async def _info(
        self,
        session: AsyncSession,
        race: AsyncLiveRace,
        tournament: AsyncTournament,
        pool: AsyncPool | None = None,
    ) -> LiveRaceInfo:
        assert race.id is not None and tournament.id is not None
        if pool is None and race.pool_id is not None:
            pool = await session.get(AsyncPool, race.pool_id)
        candidates = await rules.candidates(session, race)
        names = {c.user.id: c.user for c in candidates}
        runs = tuple(
            RaceRun(
                names[run.user_id].discord_id if run.user_id in names else 0,
                (names[run.user_id].racetime_name if run.user_id in names else None) or "?",
                run.status, run.place, run.finish_time,
            )
            for run in await queries.runs_of_race(session, race.id)
        )
        settings = rules.room_settings(race, tournament, pool)
        slug = race.racetime_slug
        return LiveRaceInfo(
            id=race.id,
            guild_id=tournament.guild_id,
            tournament_id=tournament.id,
            tournament=tournament.name,
            pool=pool.name if pool is not None else None,
            status=RaceStatus(race.status),
            scheduled_at=race.scheduled_at,
            room_open_minutes_before=race.room_open_minutes_before,
            goal=rules.goal(race, tournament),
            invitational=settings.invitational,
            streaming_required=bool(settings.streaming_required),
            room_url=(
                f"{self._racetime_url}/{tournament.racetime_category}/{slug}" if slug else None
            ),
            room_error=race.room_error,
            cancelled_reason=race.cancelled_reason,
            eligible=sum(1 for c in candidates if c.eligible),
            runs=runs,
        )


async def _user(session: AsyncSession, actor: Actor) -> User:
    """The application user of a person the policy let act."""
    assert actor.discord_id is not None
    return await get_or_create_user_by_discord_id(session, actor.discord_id)


def _label(race: LiveRaceInfo) -> str:
    parts = [f"#{race.id}", race.tournament, race.pool or "no pool",
             utc_text(race.scheduled_at)]
    label = " · ".join(parts)
    if race.status != RaceStatus.SCHEDULED:
        label += f" ({race.status.value})"
    return label if len(label) <= 100 else label[:99] + "…"
