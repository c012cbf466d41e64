"""Opening a match's racetime room exactly once, and keeping its players in it.

Claim before you call: ``match_room_claims`` gets the match's row (state ``opening``, unique
``match_id``) and commits *before* ``startrace`` is posted. Whoever fails to insert it (another
task, another process on the same PostgreSQL database) never posts ``startrace``: it reports
the winner's room or "already opening". Before every ``startrace`` the bot's rooms in the
category are searched for one whose info text is the claim's: a room whose ``startrace``
answer was lost, or that a crashed process opened, is adopted instead of opened twice. At
start-up, claims still ``opening`` are finished the same way.

The slug is recorded on the claim (``opened``), then the room is set up: linked players are
invited, their join requests accepted, the match details posted and unlinked players warned
about. Then, once, the room is announced: ``RacetimeRoomCreatedEvent`` (the scheduler) or
``RacetimeRoomOpenedEvent`` (a moderator), with who racetime let in and who it refused, so that
the players' DMs and the announcement say what racetime actually did. A refused invite is the
match's problem: it is recorded on the player (``invite_error``) and announced to the
organizers (``MatchInviteRefusedEvent``), with what to do. Each time the bot joins a match room
again (:meth:`reconcile_room`, also on ``RacetimeBotJoinedRaceEvent``), when a player links
their racetime account while the room waits for the race, and once for every room resumed at
start-up, the players are checked again without repeating an invite racetime already shows.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from core.access import Actor, BotNotAssignedError
from core.errors import NotFoundError, UserFacingError
from core.events import (
    EventDispatcher,
    MatchInviteRefusedEvent,
    MatchRoomProblemEvent,
    RacetimeAccountLinkedEvent,
    RacetimeBotJoinedRaceEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRoomCreatedEvent,
    RacetimeRoomOpenedEvent,
)
from core.identity import SYSTEM_USER_ID
from core.leadership import superseded
from core.rooms import rules
from core.rooms.launch import CLAIM_LEASE as CLAIM_LEASE  # re-exported
from core.rooms.launch import LaunchFailed, RoomService
from core.rooms.launch import OpenRetry as OpenRetry  # re-exported
from core.rooms.players import InviteResult
from core.rooms.rules import Decision, MatchPlan, Refusal
from db.models import ClaimState, Match, MatchRoomClaim
from db.models.base import RaceStatus
from db.queries import bots as bot_queries
from db.queries import match_rooms as queries
from db.queries import rooms as room_queries
from db.types import utcnow
from racetime.client import RaceSettings
from racetime.connection import CreatedRoom, RoomConnection
from racetime.manager import UnknownCategoryError

log = logging.getLogger(__name__)

Reason = Literal["scheduled", "manual"]


class OpeningStatus(StrEnum):
    OPENED = "opened"  # this call opened the room
    ADOPTED = "adopted"  # this call found the room a lost answer or a crash left behind
    ALREADY_OPEN = "already_open"  # someone else had opened it
    ALREADY_OPENING = "already_opening"  # someone else holds the claim right now
    FAILED = "failed"  # every attempt failed; ``error`` says why (also on the match)


@dataclass(frozen=True, slots=True)
class RoomOpening:
    """The outcome of :meth:`MatchRoomService.create_race_room_for_match`."""

    match_id: int
    status: OpeningStatus
    category: str | None = None
    slug: str | None = None
    url: str | None = None
    error: str | None = None
    invited: tuple[str, ...] = ()  # racetime ids racetime let in (took the invite, or shows)
    unlinked_user_ids: tuple[int, ...] = ()  # players that could not be invited
    unlinked_discord_ids: tuple[int, ...] = ()  # the same players, to mention them
    problems: tuple[str, ...] = ()  # setting up the room went partly wrong (room is open)
    refused: tuple[tuple[str, str], ...] = ()  # (racetime name, racetime's words) not let in

    @property
    def ok(self) -> bool:
        return self.status in (
            OpeningStatus.OPENED, OpeningStatus.ADOPTED, OpeningStatus.ALREADY_OPEN
        )


@dataclass(frozen=True, slots=True)
class RoomPreview:
    """What opening the match's room would do (``/open-room`` shows it before Confirm)."""

    match_id: int
    tournament: str
    title: str
    scheduled_at: datetime | None
    category: str
    goal: str
    settings: RaceSettings
    invite: tuple[str, ...]  # racetime names of the linked players
    unlinked_discord_ids: tuple[int, ...]
    existing: RoomOpening | None  # the room the match already has, or is getting


class MatchRoomService(RoomService):
    def subscribe(self, dispatcher: EventDispatcher) -> None:
        """Reconcile a match room when the bot joins it and when a player links racetime;
        accept players' join requests."""
        dispatcher.subscribe(RacetimeBotJoinedRaceEvent, self._on_bot_joined)
        dispatcher.subscribe(RacetimeEntrantJoinedEvent, self._on_entrant, when=_join_request)
        dispatcher.subscribe(
            RacetimeEntrantStatusChangedEvent, self._on_entrant, when=_join_request
        )
        dispatcher.subscribe(RacetimeAccountLinkedEvent, self._on_linked)

    # -- the decision --------------------------------------------------------------------------

    async def should_create_room_for_match(
        self, match_id: int, now: datetime | None = None
    ) -> Decision:
        """Whether the scheduler should open the match's room at ``now`` (default: the clock's
        now); if not, why (``Decision.code`` and ``.reason``)."""
        when = now if now is not None else self._clock.now()
        async with self._sessionmaker() as session:
            found = await queries.get_match(session, match_id)
            if found is None:
                return Decision.refuse(Refusal.MATCH_NOT_FOUND, f"There is no match {match_id}.")
            match, tournament = found
            category = tournament.racetime_category
            decision = rules.decide(
                now=when,
                match=match,
                tournament=tournament,
                players=await queries.match_players(session, match_id),
                bot=await bot_queries.get_bot_by_category(session, category),
                bot_running=category in self._racetime.bots,
                claim=await queries.get_claim(session, match_id),
                has_room=await room_queries.get_room_for_match(session, match_id) is not None,
                bot_assigned=await self._access.bot_serves(tournament.guild_id, category),
            )
        if not decision:
            log.info("Match %d: no room yet: %s", match_id, decision.reason)
        return decision

    # -- opening -------------------------------------------------------------------------------

    async def create_race_room_for_match(
        self,
        match_id: int,
        *,
        actor_user_id: int | None,
        reason: Reason,
        actor: Actor | None = None,
    ) -> RoomOpening:
        """Open the match's room unless it has one; exactly once across tasks and processes.

        The access policy is asked first, every time: ``actor`` must be allowed to open rooms
        (``None``: the caller asked already) and the category's bot must serve the match's
        server now. Raises :class:`UserFacingError` (nothing claimed) for a match that is
        cancelled or finished, whose category has no bot running here, or whose bot is no
        longer assigned to the server; the scheduler (``reason="scheduled"``) gets the last
        as a recorded room problem and a ``FAILED`` outcome instead, and tries again later.
        """
        plan = await self._plan(match_id)
        if plan.match.status in (RaceStatus.CANCELLED.value, RaceStatus.FINISHED.value):
            raise UserFacingError(f"The match is {plan.match.status}: it gets no room.")
        if not plan.tournament.is_active:
            raise UserFacingError(rules.archived_message(plan.tournament))
        if plan.category not in self._racetime.bots:
            raise UserFacingError(str(UnknownCategoryError(plan.category)))
        try:
            await self._may_open(
                actor, plan.tournament.guild_id, plan.category, rules.CHANGE_MATCH_CATEGORY
            )
        except BotNotAssignedError as refused:
            if reason != "scheduled":
                raise
            await self.record_problem(match_id, refused.message)
            return RoomOpening(
                match_id, OpeningStatus.FAILED, plan.category, error=refused.message
            )
        claim, won = await self._claim(plan, actor_user_id, reason)
        if not won:
            return self._outcome_of(claim)
        return await self._open(plan, claim)

    async def _plan(self, match_id: int) -> MatchPlan:
        async with self._sessionmaker() as session:
            found = await queries.get_match(session, match_id)
            if found is None:
                raise NotFoundError(f"There is no match {match_id}.")
            players = await queries.match_players(session, match_id)
        return MatchPlan(found[0], found[1], players)

    async def _claim(
        self, plan: MatchPlan, actor_user_id: int | None, reason: Reason
    ) -> tuple[MatchRoomClaim, bool]:
        """The match's claim and whether this call holds it (committed before returning)."""
        fields = {
            "reason": reason, "actor_user_id": actor_user_id, "leader_epoch": self._fence.epoch,
        }
        async with self._sessionmaker.begin() as session:
            await self._fence.check(session)
            room = await room_queries.get_room_for_match(session, plan.match_id)
            claim = None
            if room is None:
                claim = await queries.insert_claim(
                    session,
                    now=self._clock.now(),
                    match_id=plan.match_id,
                    category=plan.category,
                    info=rules.room_info(plan.match, plan.tournament),
                    **fields,
                )
            if claim is not None:
                return claim, True
            existing = await queries.get_claim(session, plan.match_id)
            if existing is None:  # a room attached without a claim (e.g. by hand)
                assert room is not None
                return _claim_of_room(plan, room.category, room.slug), False
            # A failed opening may be tried again by a moderator (never by the scheduler).
            if reason == "manual" and await queries.reclaim_failed(
                session, plan.match_id, now=self._clock.now(), **fields
            ):
                await session.refresh(existing)
                return existing, True
            return existing, False

    def _outcome_of(self, claim: MatchRoomClaim) -> RoomOpening:
        if claim.state == ClaimState.OPENED.value and claim.slug:
            return RoomOpening(
                claim.match_id, OpeningStatus.ALREADY_OPEN, claim.category, claim.slug,
                self._url(claim.category, claim.slug),
            )
        if claim.state == ClaimState.FAILED.value:
            return RoomOpening(
                claim.match_id, OpeningStatus.FAILED, claim.category, error=claim.last_error
            )
        return RoomOpening(claim.match_id, OpeningStatus.ALREADY_OPENING, claim.category)

    async def _open(self, plan: MatchPlan, claim: MatchRoomClaim) -> RoomOpening:
        """Find the claim's room on racetime or open it (:class:`RoomLauncher`)."""
        launched = await self._launcher.launch(_MatchTarget(self, plan, claim))
        if isinstance(launched, LaunchFailed):
            await self._record_failed(plan.match_id, launched.error)
            return RoomOpening(
                plan.match_id, OpeningStatus.FAILED, plan.category, error=launched.error
            )
        slug, settings = launched.slug, launched.settings
        connection = await self._record_opened(plan, claim, slug, settings)
        opening = await self._set_up(plan, connection)
        if not launched.adopted:
            dropped = await self._launcher.not_taken(plan.category, slug, settings)
            opening = replace(opening, problems=opening.problems + dropped)
        status = OpeningStatus.ADOPTED if launched.adopted else OpeningStatus.OPENED
        return replace(opening, status=status)

    async def _our_room(self, plan: MatchPlan, claim: MatchRoomClaim, info: str | None,
                        race_name: str) -> bool:
        """A room a bot opened with this claim's info text and the match's marker, not
        recorded for another match."""
        if not rules.is_room_of(info, claim.info, plan.match_id):
            return False
        category, _, slug = race_name.rpartition("/")
        async with self._sessionmaker() as session:
            room = await room_queries.get_room(session, category, slug)
        return room is None or room.match_id in (None, plan.match_id)

    async def _renew(self, match_id: int) -> None:
        """Renew the claim's lease before each attempt (see :meth:`reconcile_unfinished`)."""
        async with self._sessionmaker.begin() as session:
            await self._fence.check(session)
            await queries.touch_claim(
                session, match_id, self._clock.now(), epoch=self._fence.epoch
            )

    async def _note_attempt(self, match_id: int, error: str) -> None:
        async with self._sessionmaker.begin() as session:
            claim = await queries.get_claim(session, match_id)
            if claim is not None:
                claim.attempts += 1
                claim.last_error = error

    async def record_problem(self, match_id: int, problem: str) -> bool:
        """Record why the match's room was not opened (``/match info`` shows it) and tell the
        staff channel (``MatchRoomProblemEvent``), once per distinct problem: the scheduler
        asks again every sweep. Returns whether it was new."""
        async with self._event_log.transaction() as outbox:
            match = await outbox.session.get(Match, match_id)
            if match is None or match.room_error == problem:
                return False
            match.room_error = problem
            outbox.add(MatchRoomProblemEvent(
                user_id=SYSTEM_USER_ID, match_id=match_id,
                tournament_id=match.tournament_id, problem=problem,
            ))
        log.warning("Match %d: room not opened: %s", match_id, problem)
        return True

    async def _record_failed(self, match_id: int, error: str) -> None:
        """The claim is failed and the match says why, for others to announce."""
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            claim = await queries.get_claim(session, match_id)
            if claim is not None:
                claim.state = ClaimState.FAILED.value
                claim.last_error = error
            match = await session.get(Match, match_id)
            if match is not None:
                match.room_error = rules.opening_failed(error)
                outbox.add(MatchRoomProblemEvent(
                    user_id=SYSTEM_USER_ID, match_id=match_id,
                    tournament_id=match.tournament_id, problem=match.room_error,
                ))
        log.error("Match %d: its room could not be opened: %s", match_id, error)

    async def _record_opened(
        self, plan: MatchPlan, claim: MatchRoomClaim, slug: str, settings: RaceSettings
    ) -> RoomConnection:
        """The claim gets the slug and the room its row (linked to the match), in one
        transaction; then the engine watches the room. It is announced once its players are
        invited (:meth:`_announce`)."""
        category = plan.category
        async with self._sessionmaker.begin() as session:
            await self._fence.check(session)
            row = await queries.get_claim(session, plan.match_id)
            assert row is not None
            row.state = ClaimState.OPENED.value
            row.slug = slug
            row.opened_at = utcnow()
            await room_queries.upsert_room(
                session, category, slug, match_id=plan.match_id, opened_by_us=True,
                is_active=True,
            )
            match = await session.get(Match, plan.match_id)
            if match is not None:
                match.room_error = None
                if match.status == RaceStatus.SCHEDULED.value:
                    match.status = RaceStatus.ROOM_OPEN.value
        opens_at = rules.room_opens_at(plan.match, plan.tournament)
        if claim.reason == "scheduled" and opens_at is not None:
            self._metrics.room_opened(category, (self._clock.now() - opens_at).total_seconds())
        record = await self._store.get_room(category, slug)
        assert record is not None
        created = CreatedRoom(
            goal=settings.goal or settings.custom_goal, invitational=settings.invitational
        )
        return self._racetime.bot(category).watch(record, created=created)

    async def _announce(self, plan: MatchPlan, category: str, slug: str,
                        result: InviteResult) -> None:
        """Record what racetime did with the invites, and announce the room once (the
        claim's ``announced_at``): ``RacetimeRoomCreatedEvent`` (the scheduler) or
        ``RacetimeRoomOpenedEvent`` (a moderator). Each refusal is announced once (its event
        id is the room's and the player's)."""
        by_racetime_id = {p.racetime_id: p for p in plan.linked if p.racetime_id}
        refused = [(by_racetime_id[r], why) for r, why in result.refused.items()
                   if r in by_racetime_id]
        refused_ids = {user.id: why for user, why in refused}
        invited_ids = {by_racetime_id[r].id for r in result.invited if r in by_racetime_id}
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            for row in await queries.match_player_rows(session, plan.match_id):
                if row.user_id in refused_ids:
                    row.invite_error = refused_ids[row.user_id]
                elif row.user_id in invited_ids:
                    row.invite_error = None
            tournament_id = plan.tournament.id
            assert tournament_id is not None
            for user, why in refused:
                assert user.id is not None and user.racetime_id is not None
                outbox.add(MatchInviteRefusedEvent(
                    user_id=SYSTEM_USER_ID, match_id=plan.match_id,
                    tournament_id=tournament_id, player_user_id=user.id,
                    racetime_user_id=user.racetime_id, racetime_name=user.racetime_name,
                    category=category, room_slug=slug, room_url=self._url(category, slug),
                    reason=why, advice=rules.invite_advice(why),
                ))
            claim = await queries.get_claim(session, plan.match_id)
            if claim is None or claim.announced_at is not None or claim.slug != slug:
                return
            claim.announced_at = utcnow()
            scheduled = claim.reason == "scheduled"
            event_type = RacetimeRoomCreatedEvent if scheduled else RacetimeRoomOpenedEvent
            outbox.add(event_type(
                user_id=SYSTEM_USER_ID if scheduled else claim.actor_user_id,
                entity_id=f"match:{plan.match_id}",
                match_id=plan.match_id,
                tournament_id=plan.tournament.id,
                category=category,
                room_slug=slug,
                room_url=self._url(category, slug),
                goal=rules.match_goal(plan.match, plan.tournament),
                invited_count=len(invited_ids),
                player_count=len(plan.players),
                scheduled_at=plan.match.scheduled_at,
                not_invited=tuple(sorted(i for i in refused_ids if i is not None)),
            ))

    # -- the room's players ----------------------------------------------------------------------

    async def _set_up(self, plan: MatchPlan, connection: RoomConnection) -> RoomOpening:
        record = connection.record
        async with self._players.lock(plan.match_id):
            result = await self._players.set_up(plan, connection)
            await self._announce(plan, record.category, record.slug, result)
        return RoomOpening(
            plan.match_id,
            OpeningStatus.OPENED,
            record.category,
            record.slug,
            self._url(record.category, record.slug),
            invited=result.invited,
            unlinked_user_ids=tuple(p.id for p in rules.unlinked(plan.players) if p.id),
            unlinked_discord_ids=tuple(p.discord_id for p in rules.unlinked(plan.players)),
            problems=tuple(result.problems),
            refused=tuple(
                (result.names.get(r, r), why) for r, why in sorted(result.refused.items())
            ),
        )

    async def reconcile_room(self, match_id: int) -> list[str]:
        """Bring the players of an opened match room in (after a (re)join); returns problems."""
        async with self._sessionmaker() as session:
            claim = await queries.get_claim(session, match_id)
            room = await room_queries.get_room_for_match(session, match_id)
        if room is None or not room.is_active:
            return []
        if claim is not None and claim.state == ClaimState.OPENING.value:
            return []  # whoever holds the claim sets the room up
        plan = await self._plan(match_id)
        connection = await self._racetime.room(room.name)
        race = connection.last_race
        if race is not None and race.status.value not in rules.WAITING_FOR_RACERS:
            return []  # under way or over: nobody is invited any more
        opening = await self._set_up(plan, connection)
        return [f"{who}: {why}" for who, why in opening.refused] + list(opening.problems)

    async def _on_bot_joined(self, event: RacetimeBotJoinedRaceEvent) -> None:
        if event.match_id is not None:
            with contextlib.suppress(NotFoundError):  # the match was deleted meanwhile
                await self.reconcile_room(event.match_id)

    async def _on_linked(self, event: RacetimeAccountLinkedEvent) -> None:
        """A player linked racetime after their match's room opened: invite them now, if the
        race has not started."""
        if event.user_id is None:
            return
        async with self._sessionmaker() as session:
            waiting = await queries.matches_with_rooms_waiting(session, event.user_id)
        for match_id in waiting:
            with contextlib.suppress(NotFoundError):
                await self.reconcile_room(match_id)

    async def _on_entrant(
        self, event: RacetimeEntrantJoinedEvent | RacetimeEntrantStatusChangedEvent
    ) -> None:
        if not _join_request(event) or event.match_id is None:
            return
        try:
            plan = await self._plan(event.match_id)
        except NotFoundError:
            return
        await self._players.accept_request(plan.linked, event.room_name, event.racetime_user_id)

    # -- chat -----------------------------------------------------------------------------------

    async def preview_room(self, match_id: int) -> RoomPreview:
        """The room :meth:`create_race_room_for_match` would open, without opening it."""
        plan = await self._plan(match_id)
        async with self._sessionmaker() as session:
            claim = await queries.get_claim(session, match_id)
            room = await room_queries.get_room_for_match(session, match_id)
        existing = None
        if claim is not None:
            existing = self._outcome_of(claim)
        elif room is not None:
            existing = self._outcome_of(_claim_of_room(plan, room.category, room.slug))
        info = rules.room_info(plan.match, plan.tournament)
        return RoomPreview(
            match_id=match_id,
            tournament=plan.tournament.name,
            title=plan.match.title,
            scheduled_at=plan.match.scheduled_at,
            category=plan.category,
            goal=rules.match_goal(plan.match, plan.tournament),
            settings=rules.room_settings(plan.match, plan.tournament, info),
            invite=tuple(p.racetime_name or p.racetime_id or "" for p in plan.linked),
            unlinked_discord_ids=tuple(p.discord_id for p in rules.unlinked(plan.players)),
            existing=existing,
        )

    async def send_room_message(self, match_id: int, text: str) -> None:
        """Post ``text`` in the match's room chat (any open match room)."""
        async with self._sessionmaker() as session:
            room = await room_queries.get_room_for_match(session, match_id)
        if room is None or not room.is_active:
            raise NotFoundError(f"Match {match_id} has no open racetime room.")
        connection = await self._racetime.room(room.name)
        await connection.send_message(text)

    # -- start-up ------------------------------------------------------------------------------

    async def reconcile_unfinished(self) -> list[RoomOpening]:
        """Finish the claims left ``opening`` by a process that stopped (looking on racetime
        first, then retrying), and set up opened rooms whose details were never posted.

        Call at start-up once the category bots are connected, before the scheduler opens
        anything (and, cheaply, from its sweep). A claim is taken over only once its lease
        ran out (its holder renews it before every attempt), or at once when it was taken
        under an older leader epoch (its process no longer leads: ``core.leadership``), and
        by one process only: an opening still under way in another process is left alone.
        """
        now = self._clock.now()
        async with self._sessionmaker() as session:
            opening = await queries.claims_in_state(session, ClaimState.OPENING)
            opened = await queries.claims_in_state(session, ClaimState.OPENED)
        outcomes = []
        for claim in opening:
            abandoned = superseded(claim.leader_epoch, self._fence)
            if claim.updated_at > now - self._lease and not abandoned:
                log.info("Match %d: its room is being opened elsewhere", claim.match_id)
                continue
            async with self._sessionmaker.begin() as session:
                await self._fence.check(session)
                taken = await queries.take_over(
                    session, claim, self._clock.now(), epoch=self._fence.epoch
                )
            if not taken:
                continue
            log.info("Match %d: its room was being opened when RaceDesk stopped; finishing",
                     claim.match_id)
            plan = await self._plan(claim.match_id)
            try:
                await self._may_open(
                    None, plan.tournament.guild_id, plan.category, rules.CHANGE_MATCH_CATEGORY
                )
            except BotNotAssignedError as refused:
                await self._record_failed(claim.match_id, refused.message)
                continue
            outcomes.append(await self._open(plan, claim))
        resumed, self._resumed = not self._resumed, True
        for claim in opened:
            # Once per process every room (the engine resumes them without a fresh join, so
            # invites that failed, or rooms opened while it was down, are seen to); then the
            # ones left half set up.
            if resumed or claim.details_posted_at is None or claim.announced_at is None:
                await self.reconcile_room(claim.match_id)
        return outcomes


@dataclass(frozen=True, slots=True)
class _MatchTarget:
    """A match's room, as :class:`RoomLauncher` opens it."""

    service: MatchRoomService
    plan: MatchPlan
    claim: MatchRoomClaim

    @property
    def category(self) -> str:
        return self.plan.category

    @property
    def label(self) -> str:
        return f"Match {self.plan.match_id}"

    def settings(self, category_goals: list[str]) -> RaceSettings:
        return rules.room_settings(
            self.plan.match, self.plan.tournament, self.claim.info, category_goals
        )

    async def is_ours(self, info: str | None, race_name: str) -> bool:
        return await self.service._our_room(self.plan, self.claim, info, race_name)

    async def renew(self) -> None:
        await self.service._renew(self.plan.match_id)

    async def note_attempt(self, error: str) -> None:
        await self.service._note_attempt(self.plan.match_id, error)


def _join_request(event: RacetimeEntrantJoinedEvent | RacetimeEntrantStatusChangedEvent) -> bool:
    """Someone asks to join a match's room: the one entrant change the service acts on."""
    status = (
        event.initial_status if isinstance(event, RacetimeEntrantJoinedEvent) else event.new_status
    )
    return status == "requested" and event.match_id is not None


def _claim_of_room(plan: MatchPlan, category: str, slug: str) -> MatchRoomClaim:
    """A stand-in claim for a room that was linked to the match without one."""
    return MatchRoomClaim(
        match_id=plan.match_id,
        state=ClaimState.OPENED.value,
        category=category,
        slug=slug,
        info="",
        reason="manual",
    )
