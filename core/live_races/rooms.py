"""Opening a live race's racetime room exactly once, on time, and keeping its entrants right.

The claim is the live race's own row: ``room_state`` goes from nothing to ``opening`` by a
conditional update committed before ``startrace`` is posted, so of two callers (two tasks,
two processes on one database) exactly one opens the room; the other reports the winner's
room or "already opening". Finding a room a lost answer or a crash left behind, and retrying,
is :class:`~core.rooms.launch.RoomLauncher`'s (shared with match rooms). The slug,
the room's row, ``room_open`` and :class:`AsyncLiveRaceRoomOpenedEvent` commit together;
then the eligible participants are invited and the race's details posted.

Eligible participants' join requests are accepted; anyone else who joins is told in the room
chat that their result will not count (once per event). :class:`LiveRaceScheduler` opens
rooms on time (15 minutes ahead by default) and catches up after downtime.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import NOT_ASSIGNED_LIKE, Actor, BotNotAssignedError
from core.access.policy import NOT_ASSIGNED
from core.clock import Clock
from core.errors import NotFoundError, UserFacingError
from core.event_store.event_log import DatabaseEventLog
from core.event_store.sent_once import SentOnce
from core.events import (
    AsyncLiveRaceCancelledEvent,
    AsyncLiveRaceCreatedEvent,
    AsyncLiveRaceEvent,
    AsyncLiveRaceRoomOpenedEvent,
    EventDispatcher,
    RacetimeBotJoinedRaceEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantStatusChangedEvent,
)
from core.identity import SYSTEM_USER_ID
from core.leadership import superseded
from core.live_races import rules
from core.outage import DatabaseWatch
from core.rooms.launch import LaunchFailed, RoomService
from core.rooms.match_rooms import OpeningStatus, Reason, RoomOpening
from core.rooms.rules import (
    CHANGE_LIVE_RACE_CATEGORY,
    Decision,
    Refusal,
    bot_refusal,
)
from core.rooms.scheduler import Due, Opening, RoomScheduler, SchedulerTimings, Verdict
from db.models import AsyncLiveRace, AsyncPool, AsyncTournament, ClaimState, RaceStatus, User
from db.queries import async_tournaments as queries
from db.queries import bots as bot_queries
from db.queries import rooms as room_queries
from racetime.client import RaceSettings
from racetime.connection import CreatedRoom, RoomConnection
from racetime.errors import RacetimeError
from racetime.manager import UnknownCategoryError

log = logging.getLogger(__name__)

ENTRANTS_LISTENER = "live-race-entrants"


@dataclass(slots=True)
class LiveRacePlan:
    race: AsyncLiveRace
    tournament: AsyncTournament
    pool: AsyncPool | None
    eligible: list[User]

    @property
    def id(self) -> int:
        assert self.race.id is not None
        return self.race.id

    @property
    def category(self) -> str:
        return self.tournament.racetime_category


class LiveRaceRooms(RoomService):
    def __init__(self, **services: Any) -> None:
        """Takes :class:`RoomService`'s arguments."""
        super().__init__(**services)
        self._told = SentOnce(self._sessionmaker, ENTRANTS_LISTENER)

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        """Invite again when the bot rejoins a room; accept or warn entrants as they come."""
        dispatcher.subscribe(RacetimeBotJoinedRaceEvent, self._on_bot_joined)
        dispatcher.subscribe(RacetimeEntrantJoinedEvent, self._on_entrant, when=_entrant_to_check)
        dispatcher.subscribe(
            RacetimeEntrantStatusChangedEvent, self._on_entrant, when=_entrant_to_check
        )

    # -- the decision --------------------------------------------------------------------------

    async def should_open(self, live_race_id: int, now: datetime | None = None) -> Decision:
        """Whether the scheduler should open the live race's room at ``now``; if not, why."""
        when = now if now is not None else self._clock.now()
        async with self._sessionmaker() as session:
            found = await queries.live_race(session, live_race_id)
            if found is None:
                return Decision.refuse(
                    Refusal.MATCH_NOT_FOUND, f"There is no live race {live_race_id}."
                )
            race, tournament, _ = found
            category = tournament.racetime_category
            bot = await bot_queries.get_bot_by_category(session, category)
        assigned = await self._access.bot_serves(tournament.guild_id, category)
        if race.status != RaceStatus.SCHEDULED.value:
            return Decision.refuse(Refusal.NOT_SCHEDULED, f"The live race is {race.status}.")
        if not tournament.is_active:
            return Decision.refuse(Refusal.NOT_SCHEDULED, f"{tournament.name} is closed.")
        if race.room_state is not None:
            return Decision.refuse(Refusal.ROOM_EXISTS, f"Its room is {race.room_state}.")
        refused = bot_refusal(
            category, bot, category in self._racetime.bots, assigned, CHANGE_LIVE_RACE_CATEGORY
        )
        if refused is not None:
            return refused
        opens_at = rules.opens_at(race)
        if when < opens_at:
            return Decision.refuse(
                Refusal.TOO_EARLY, f"The room opens at <t:{int(opens_at.timestamp())}:F>."
            )
        return Decision(True)

    # -- opening -------------------------------------------------------------------------------

    async def open_room(
        self,
        live_race_id: int,
        *,
        actor_user_id: int | None,
        reason: Reason,
        actor: Actor | None = None,
    ) -> RoomOpening:
        """Open the live race's room unless it has one; exactly once across processes.
        A moderator (``manual``) may retry a failed opening; the scheduler may not.

        The access policy is asked first, every time (see
        :meth:`MatchRoomService.create_race_room_for_match`): a bot no longer assigned to the
        server opens nothing; the scheduler records that on the race and asks again later."""
        plan = await self._plan(live_race_id)
        if plan.race.status in (RaceStatus.CANCELLED.value, RaceStatus.FINISHED.value):
            raise UserFacingError(
                f"Live race #{live_race_id} is {plan.race.status}: its room cannot be opened."
            )
        if not plan.tournament.is_active:
            raise UserFacingError(
                f"**{plan.tournament.name}** is closed, so its live races get no room. Schedule "
                "the race in an open async tournament if it is still to be run."
            )
        if plan.category not in self._racetime.bots:
            raise UserFacingError(str(UnknownCategoryError(plan.category)))
        try:
            await self._may_open(
                actor, plan.tournament.guild_id, plan.category, CHANGE_LIVE_RACE_CATEGORY
            )
        except BotNotAssignedError as refused:
            if reason != "scheduled":
                raise
            await self.record_problem(live_race_id, refused.message)
            return RoomOpening(
                live_race_id, OpeningStatus.FAILED, plan.category, error=refused.message
            )
        async with self._sessionmaker.begin() as session:
            await self._fence.check(session)
            won = await queries.claim_room(
                session, live_race_id, self._clock.now(), retry_failed=reason == "manual",
                epoch=self._fence.epoch,
            )
        if not won:
            return await self._outcome(live_race_id)
        return await self._open(plan, actor_user_id, reason)

    async def _plan(self, live_race_id: int) -> LiveRacePlan:
        async with self._sessionmaker() as session:
            found = await queries.live_race(session, live_race_id)
            if found is None:
                raise NotFoundError(f"There is no live race {live_race_id}.")
            race, tournament, pool = found
            eligible = await rules.eligible_users(session, race)
        return LiveRacePlan(race, tournament, pool, eligible)

    async def _outcome(self, live_race_id: int) -> RoomOpening:
        async with self._sessionmaker() as session:
            found = await queries.live_race(session, live_race_id)
        assert found is not None
        race, tournament, _ = found
        category = tournament.racetime_category
        if race.room_state == ClaimState.OPENED.value and race.racetime_slug:
            slug = race.racetime_slug
            return RoomOpening(
                live_race_id, OpeningStatus.ALREADY_OPEN, category, slug, self._url(category, slug)
            )
        if race.room_state == ClaimState.FAILED.value:
            return RoomOpening(
                live_race_id, OpeningStatus.FAILED, category, error=race.room_error
            )
        return RoomOpening(live_race_id, OpeningStatus.ALREADY_OPENING, category)

    async def _open(
        self, plan: LiveRacePlan, actor_user_id: int | None, reason: str
    ) -> RoomOpening:
        launched = await self._launcher.launch(_LiveRaceTarget(self, plan))
        if isinstance(launched, LaunchFailed):
            await self._record_failed(plan.id, launched.error)
            return RoomOpening(plan.id, OpeningStatus.FAILED, plan.category, error=launched.error)
        connection = await self._record_opened(plan, launched.slug, launched.settings,
                                               actor_user_id, reason)
        problems = await self._set_up(plan, connection)
        if not launched.adopted:
            problems += await self._launcher.not_taken(
                plan.category, launched.slug, launched.settings
            )
        status = OpeningStatus.ADOPTED if launched.adopted else OpeningStatus.OPENED
        return RoomOpening(
            plan.id, status, plan.category, launched.slug,
            self._url(plan.category, launched.slug),
            invited=tuple(u.racetime_id for u in plan.eligible if u.racetime_id),
            problems=tuple(problems),
        )

    async def is_ours(self, plan: LiveRacePlan, info: str | None, race_name: str) -> bool:
        """A room with the live race's marker, not recorded for another live race."""
        if not rules.is_room_of(info, plan.id):
            return False
        category, _, slug = race_name.rpartition("/")
        async with self._sessionmaker() as session:
            room = await room_queries.get_room(session, category, slug)
        return room is None or room.live_race_id in (None, plan.id)

    async def renew(self, live_race_id: int) -> None:
        async with self._sessionmaker.begin() as session:
            await self._fence.check(session)
            await queries.renew_claim(
                session, live_race_id, self._clock.now(), epoch=self._fence.epoch
            )

    async def note_attempt(self, live_race_id: int, error: str) -> None:
        async with self._sessionmaker.begin() as session:
            race = await session.get(AsyncLiveRace, live_race_id)
            if race is not None:
                race.room_error = error

    async def record_problem(self, live_race_id: int, problem: str) -> bool:
        """Record why the live race's room was not opened (its info shows it), once."""
        async with self._sessionmaker.begin() as session:
            race = await session.get(AsyncLiveRace, live_race_id)
            if race is None or race.room_error == problem:
                return False
            race.room_error = problem
        log.warning("Live race %d: room not opened: %s", live_race_id, problem)
        return True

    async def _record_failed(self, live_race_id: int, error: str) -> None:
        async with self._sessionmaker.begin() as session:
            race = await session.get(AsyncLiveRace, live_race_id)
            if race is not None:
                race.room_state, race.room_error = ClaimState.FAILED.value, error
        log.error("Live race %d: its room could not be opened: %s", live_race_id, error)

    async def _record_opened(
        self, plan: LiveRacePlan, slug: str, settings: RaceSettings,
        actor_user_id: int | None, reason: str,
    ) -> RoomConnection:
        """The slug, the room's row, ``room_open`` and the event in one transaction; then the
        engine watches the room."""
        category = plan.category
        scheduled = reason == "scheduled"
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            await self._fence.check(session)
            race = await session.get(AsyncLiveRace, plan.id)
            assert race is not None
            race.room_state, race.room_error = ClaimState.OPENED.value, None
            race.racetime_slug = slug
            if race.status == RaceStatus.SCHEDULED.value:
                race.status = RaceStatus.ROOM_OPEN.value
            await room_queries.upsert_room(
                session, category, slug, live_race_id=plan.id, opened_by_us=True, is_active=True,
            )
            outbox.add(AsyncLiveRaceRoomOpenedEvent(
                live_race_id=plan.id, tournament_id=plan.tournament.id or 0,
                pool_id=race.pool_id, scheduled_at=race.scheduled_at,
                room_slug=slug, room_url=self._url(category, slug),
                participant_count=len(plan.eligible),
                user_id=SYSTEM_USER_ID if scheduled else actor_user_id,
                occurred_at=self._clock.now(),
            ))
        log.info("Live race %d: its room %s/%s is open", plan.id, category, slug)
        if scheduled:
            lateness = (self._clock.now() - rules.opens_at(plan.race)).total_seconds()
            self._metrics.room_opened(category, lateness)
        record = await self._store.get_room(category, slug)
        assert record is not None
        created = CreatedRoom(
            goal=settings.goal or settings.custom_goal, invitational=settings.invitational
        )
        return self._racetime.bot(category).watch(record, created=created)

    async def _set_up(self, plan: LiveRacePlan, connection: RoomConnection) -> list[str]:
        """Invite the eligible participants, then post what the race is."""
        problems = (await self._players.reconcile(plan.eligible, connection)).everything()
        try:
            await connection.send_message(
                rules.details_message(plan.race, plan.tournament, plan.pool, len(plan.eligible))
            )
        except RacetimeError as error:
            problems.append(f"Could not post the live race's details: {error}")
        return problems

    # -- the room's entrants ---------------------------------------------------------------------

    async def reconcile_room(self, live_race_id: int) -> list[str]:
        """Invite the eligible participants again (after the bot rejoined); returns problems."""
        async with self._sessionmaker() as session:
            room = await room_queries.get_room_for_live_race(session, live_race_id)
        if room is None or not room.is_active:
            return []
        plan = await self._plan(live_race_id)
        if plan.race.status not in (RaceStatus.ROOM_OPEN.value, RaceStatus.SCHEDULED.value):
            return []
        connection = await self._racetime.room(room.name)
        return (await self._players.reconcile(plan.eligible, connection)).everything()

    async def _on_bot_joined(self, event: RacetimeBotJoinedRaceEvent) -> None:
        if event.live_race_id is not None:
            with contextlib.suppress(NotFoundError):
                await self.reconcile_room(event.live_race_id)

    async def _on_entrant(
        self, event: RacetimeEntrantJoinedEvent | RacetimeEntrantStatusChangedEvent
    ) -> None:
        """Accept an eligible participant's request; tell anyone else, once per event (a
        receipt kept after the message), that their result will not count."""
        if not _entrant_to_check(event) or event.live_race_id is None:
            return
        joined = isinstance(event, RacetimeEntrantJoinedEvent)
        # (ignored below: only a status change reaches the else)
        status = event.initial_status if joined else event.new_status  # type: ignore[union-attr]
        async with self._sessionmaker() as session:
            found = await queries.live_race(session, event.live_race_id)
            if found is None:
                return
            race, tournament, _ = found
            candidates = {c.user.racetime_id: c for c in await rules.candidates(session, race)}
        candidate = candidates.get(event.racetime_user_id)
        if candidate is not None and candidate.eligible:
            if status == "requested":
                await self._players.accept_request(
                    [candidate.user], event.room_name, event.racetime_user_id
                )
            return
        if status == "invited":
            return  # invited by someone on racetime: they are told when they accept
        if await self._told.done(event.event_id):
            return
        why = candidate.reason if candidate is not None else "not a participant"
        name = event.racetime_user_name or event.racetime_user_id
        connection = await self._racetime.room(event.room_name)
        await connection.send_message(rules.not_counted_message(name, tournament.name, why or ""))
        await self._told.record(event.event_id)

    # -- start-up ------------------------------------------------------------------------------

    async def reconcile_unfinished(self) -> list[RoomOpening]:
        """Finish the openings a stopped process left ``opening`` once their lease ran out,
        or at once when taken under an older leader epoch (looking on racetime first); one
        process takes each over."""
        now = self._clock.now()
        async with self._sessionmaker() as session:
            opening = await queries.races_in_room_state(session, ClaimState.OPENING)
        outcomes = []
        for race in opening:
            assert race.id is not None
            claimed = race.room_claimed_at
            abandoned = superseded(race.room_claim_epoch, self._fence)
            if claimed is not None and claimed > now - self._lease and not abandoned:
                continue
            async with self._sessionmaker.begin() as session:
                await self._fence.check(session)
                taken = await queries.take_over_claim(
                    session, race.id, claimed, self._clock.now(), epoch=self._fence.epoch
                )
            if not taken:
                continue
            log.info("Live race %d: its room was being opened when RaceDesk stopped; finishing",
                     race.id)
            plan = await self._plan(race.id)
            try:
                await self._may_open(
                    None, plan.tournament.guild_id, plan.category, CHANGE_LIVE_RACE_CATEGORY
                )
            except BotNotAssignedError as refused:
                await self._record_failed(race.id, refused.message)
                continue
            outcomes.append(await self._open(plan, None, "scheduled"))
        return outcomes


def _entrant_to_check(
    event: RacetimeEntrantJoinedEvent | RacetimeEntrantStatusChangedEvent,
) -> bool:
    """An entrant of a live race's room who joined or asked to join: whether they may race
    is looked up; every other entrant change is none of the service's business."""
    if event.live_race_id is None:
        return False
    return isinstance(event, RacetimeEntrantJoinedEvent) or event.new_status == "requested"


@dataclass(frozen=True, slots=True)
class _LiveRaceTarget:
    """A live race's room, as :class:`RoomLauncher` opens it."""

    rooms: LiveRaceRooms
    plan: LiveRacePlan

    @property
    def category(self) -> str:
        return self.plan.category

    @property
    def label(self) -> str:
        return f"Live race {self.plan.id}"

    def settings(self, category_goals: list[str]) -> RaceSettings:
        plan = self.plan
        return rules.room_settings(plan.race, plan.tournament, plan.pool, category_goals)

    async def is_ours(self, info: str | None, race_name: str) -> bool:
        return await self.rooms.is_ours(self.plan, info, race_name)

    async def renew(self) -> None:
        await self.rooms.renew(self.plan.id)

    async def note_attempt(self, error: str) -> None:
        await self.rooms.note_attempt(self.plan.id, error)


class LiveRaceScheduler(RoomScheduler):
    """Opens each scheduled live race's room ``room_open_minutes_before`` its start."""

    job_prefix = "live-race-room:"
    sweep_job = "live-race-room-sweep"
    noun = "Live race"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        rooms: LiveRaceRooms,
        *,
        clock: Clock | None = None,
        timings: SchedulerTimings | None = None,
        outage: DatabaseWatch | None = None,
    ) -> None:
        super().__init__(sessionmaker, event_log, clock=clock, timings=timings, outage=outage)
        self._rooms = rooms

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        for kind in (AsyncLiveRaceCreatedEvent, AsyncLiveRaceCancelledEvent):
            dispatcher.subscribe(kind, self._on_live_race_event)

    async def _on_live_race_event(self, event: AsyncLiveRaceEvent) -> None:
        await self.replan(event.live_race_id)

    async def _waiting(self, session: AsyncSession, subject_id: int | None = None) -> list[Due]:
        races = await queries.waiting_for_rooms(session, subject_id, retrying=NOT_ASSIGNED_LIKE)
        return [Due(r.id, rules.opens_at(r), r.scheduled_at) for r in races if r.id is not None]

    async def _decide(self, subject_id: int, now: datetime) -> Verdict:
        return await self._rooms.should_open(subject_id, now)

    async def _create(self, subject_id: int) -> Opening:
        # The scheduler asks the access policy as RaceDesk's own automation.
        return await self._rooms.open_room(
            subject_id, actor_user_id=SYSTEM_USER_ID, reason="scheduled", actor=Actor.system()
        )

    async def _record_problem(self, subject_id: int, problem: str) -> None:
        await self._rooms.record_problem(subject_id, problem)

    async def _not_opened(self, subject_id: int, verdict: Verdict) -> None:
        """A bot no longer assigned to the server is recorded on the race, once."""
        if getattr(verdict, "code", None) is Refusal.BOT_NOT_ASSIGNED:
            await self._rooms.record_problem(subject_id, verdict.reason)

    async def _reconcile(self) -> None:
        await self._rooms.reconcile_unfinished()

    async def _report_missed(self, subject_id: int, starts_at: datetime) -> None:
        reason = (
            f"The room was not opened: the live race started at "
            f"<t:{int(starts_at.timestamp())}:F> and RaceDesk could not open it in time. "
            "A moderator can open it with /liverace open."
        )
        async with self._sessionmaker.begin() as session:
            race = await session.get(AsyncLiveRace, subject_id)
            error = race.room_error if race is not None else None
            if race is None or (error is not None and NOT_ASSIGNED not in error):
                return
            race.room_error = reason
        log.warning("Live race %d: %s", subject_id, reason)


__all__ = ["LiveRaceRooms", "LiveRaceScheduler"]
