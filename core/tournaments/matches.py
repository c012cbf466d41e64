"""Matches of a tournament: scheduling, moving and cancelling them, and what they look like.

Every change writes its rows, its audit entry and its event (which the notification
listeners turn into player DMs) in one transaction (``DatabaseEventLog.transaction``):
either all of it happened or none of it did.

Why a match has no room yet is asked of a ``RoomReadiness`` (``core.tournaments.match_info``);
until the room service provides one (``RacetimeRoomService.should_create_room_for_match``),
``default_room_reason`` answers from the match's own data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.clock import Clock
from core.errors import NotFoundError, UserFacingError
from core.event_store.event_log import DatabaseEventLog, Outbox
from core.events import MatchCancelledEvent, MatchRescheduledEvent, MatchScheduledEvent
from core.labels import clean_label
from core.times.formatting import breaks_text, utc_text
from core.times.parsing import check_in_range, example_time, show_time
from core.tournaments.match_info import (
    DEFAULT_GOAL,
    LINK_COMMAND,
    RACETIME_ROOM_STATUS,
    DefaultReadiness,
    MatchInfo,
    PlayerInfo,
    RoomInfo,
    RoomReadiness,
    RoomStatus,
    fpa_note,
)
from core.tournaments.tournaments import (
    SCHEDULING_DEFAULT,
    UNSET,
    TournamentService,
    TournamentSettings,
    _Unset,
    clean_goal,
)
from db.models import ClaimState, Match, MatchPlayer, RaceStatus, Tournament, User
from db.queries import matches as queries
from db.queries.match_details import MatchDetails, match_details
from db.queries.match_rooms import delete_failed_claim
from db.queries.proposals import overtake_live_proposal
from db.queries.users import get_or_create_user_by_discord_id

log = logging.getLogger(__name__)

TITLE_MAX = 200
REASON_MAX = 500
ROUND_MAX = 100
MIN_PLAYERS = 2  # a match is a race between players; a lone run is an async's business
# Why a time players proposed no longer counts (their buttons say so).
OVERTAKEN_BY_TIME = "the match's time was set meanwhile"
OVERTAKEN_BY_CANCEL = "the match was cancelled"


# -- input checks ------------------------------------------------------------------------------


def match_id_from(text: str) -> int:
    """The match id in ``12``, ``#12`` or a suggestion's label ``#12 · …``."""
    found = re.match(r"\s*#?\s*(\d{1,18})\b", text)
    if found is None:
        raise UserFacingError(
            f"`{text.strip()}` is not a match. Pick one from the suggestions, or give its "
            "number (`/match list` shows them)."
        )
    return int(found[1])


def clean_title(title: str) -> str:
    return clean_label(
        title, noun="match title", limit=TITLE_MAX,
        when_blank="Give the match a title, e.g. `Semi-final 1`.",
    )


def clean_reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise UserFacingError("Give a reason for cancelling: the players are told it.")
    if len(cleaned) > REASON_MAX:
        raise UserFacingError(
            f"A reason can be at most {REASON_MAX} characters; this one has {len(cleaned)}."
        )
    return cleaned


def check_future(when: datetime, now: datetime) -> None:
    """Refuse a time that is not in the future, or more than a few years ahead (``when``
    must be timezone-aware)."""
    if when.tzinfo is None:
        raise ValueError("race times must be timezone-aware")
    if when <= now:
        raise UserFacingError(
            f"{show_time(when)} is in the past. Give a time in the future, e.g. "
            f"`{utc_text(example_time(now, UTC))}`."
        )
    check_in_range(when, now)


def check_cancellable(status: str, what: str, kept: str) -> None:
    """Refuse to cancel what is already cancelled, or finished (``kept`` says what stays)."""
    if status == RaceStatus.CANCELLED:
        raise UserFacingError(f"{what} is already cancelled.")
    if status == RaceStatus.FINISHED:
        raise UserFacingError(f"{what} is finished and {kept}; there is nothing to cancel.")


def clean_round(round_: str | None) -> str | None:
    """A round's name on one line (``None`` or blank: no round)."""
    if round_ is None or not round_.strip():
        return None
    return clean_label(round_, noun="round", limit=ROUND_MAX, when_blank="")


def check_changeable(status: str, what: str) -> None:
    """Refuse to change a match that is cancelled or finished."""
    if status == RaceStatus.CANCELLED:
        raise UserFacingError(
            f"{what} is cancelled, so it cannot change. Schedule a new one instead."
        )
    if status == RaceStatus.FINISHED:
        raise UserFacingError(f"{what} is finished, so it cannot change.")


def check_players(players: Sequence[int], names: Mapping[int, str]) -> list[int]:
    seen: set[int] = set()
    twice = []
    for player in players:
        if player in seen and player not in twice:
            twice.append(player)
        seen.add(player)
    if twice:
        listed = ", ".join(_name(player, names) for player in twice)
        raise UserFacingError(f"Each player can be in a match once; {listed} is listed twice.")
    if len(players) < MIN_PLAYERS:
        raise UserFacingError(
            f"A match needs at least {MIN_PLAYERS} players; {len(players)} given. "
            "Mention every player, e.g. `@Ada @Bob`."
        )
    return list(players)


def _name(discord_id: int, names: Mapping[int, str]) -> str:
    return names.get(discord_id) or f"<@{discord_id}>"


# -- the service -------------------------------------------------------------------------------


class MatchService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        audit: AuditService,
        tournaments: TournamentService,
        clock: Clock,
        *,
        access: AccessPolicy,
        racetime_url: str = "https://racetime.gg",
        readiness: RoomReadiness | None = None,
    ) -> None:
        self._access = access
        self._sessionmaker = sessionmaker
        self._event_log = event_log
        self._audit = audit
        self._tournaments = tournaments
        self._clock = clock
        self._racetime_url = racetime_url.rstrip("/")
        self._readiness: RoomReadiness = readiness or DefaultReadiness()

    def use_readiness(self, readiness: RoomReadiness) -> None:
        """Ask ``readiness`` (the room service) why rooms are not open, from now on."""
        self._readiness = readiness

    # -- changing ----------------------------------------------------------------------------

    async def schedule(
        self,
        guild_id: int,
        tournament: str,
        players: Sequence[int],
        when: datetime | None,
        title: str,
        *,
        actor: Actor,
        goal: str | None = None,
        invitational: bool | None = None,
        auto_create: bool | None = None,
        display_names: Mapping[int, str] | None = None,
        round: str | None = None,
        import_key: str | None = None,
    ) -> MatchInfo:
        """A new match of the server's active tournament ``tournament`` between ``players``
        (Discord user ids; ``display_names`` name them in refusals). ``None`` options keep
        their defaults: the tournament's goal, invitational on, auto-create on.
        ``import_key``: the schedule line that made it (``core.tournaments.imports``).

        ``when`` may be ``None`` only where players schedule their own matches (the
        tournament's ``scheduling`` is not "organizers"): the match waits, with no room and no
        reminder, until they agree on a time (``core.tournaments.proposals``)."""
        await self._access.require(actor, Permission.SCHEDULE_MATCHES, guild_id)
        names = display_names or {}
        player_ids = check_players(players, names)
        title = clean_title(title)
        goal = clean_goal(goal)
        round = clean_round(round)
        if when is not None:
            self._check_future(when)
        found = await self._tournaments.get(guild_id, tournament, include_archived=False)
        settings = found.settings
        if when is None and settings.scheduling == SCHEDULING_DEFAULT:
            raise UserFacingError(
                f"Give the match a time (`when`): in **{found.name}** organizers set every "
                "match's time. To let the players agree on one, change the tournament's "
                "`scheduling` with `/tournament settings`."
            )
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            known = await queries.users_by_discord_id(session, player_ids)
            if settings.require_racetime_link:
                unlinked = [p for p in player_ids if p not in known or not known[p].racetime_id]
                if unlinked:
                    raise UserFacingError(_unlinked_message(found.name, unlinked, names))
            users = [await get_or_create_user_by_discord_id(session, p) for p in player_ids]
            creator = await _user(session, actor)
            match = Match(
                tournament_id=found.id,
                title=title,
                scheduled_at=when,
                room_open_minutes_before=settings.room_open_minutes_before,
                goal=goal,
                invitational=invitational,
                auto_create_room=auto_create,
                created_by=creator.id,
                round=round,
                import_key=import_key,
            )
            await queries.add_match(session, match, [_id(user) for user in users])
            match_id = _id(match)
            await self._audit.record(
                session, "match.schedule", actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details={
                    "match_id": match_id, "tournament_id": found.id, "title": title,
                    "scheduled_at": when.isoformat() if when else None,
                    "players": [str(p) for p in player_ids],
                    "goal": goal, "invitational": invitational, "auto_create": auto_create,
                    **({"round": round} if round else {}),
                    **({"import_key": import_key} if import_key else {}),
                },
            )
            outbox.add(
                MatchScheduledEvent(
                    match_id=match_id, tournament_id=found.id, scheduled_at=when,
                    user_id=creator.id, occurred_at=self._clock.now(),
                )
            )
            tournament_row = await session.get(Tournament, found.id)
            assert tournament_row is not None
            return await self._info(session, match, tournament_row)

    async def reschedule(
        self, guild_id: int, match_id: int, when: datetime, *, actor: Actor
    ) -> tuple[MatchInfo, datetime | None]:
        """Move a match whose room is not open yet; returns it and its old time."""
        await self._access.require(actor, Permission.SCHEDULE_MATCHES, guild_id)
        self._check_future(when)
        async with self._event_log.transaction() as outbox:
            match, tournament = await self._find(
                outbox.session, guild_id, match_id, for_update=True
            )
            return await self.set_time(outbox, match, tournament, when, actor=actor)

    async def set_time(
        self,
        outbox: Outbox,
        match: Match,
        tournament: Tournament,
        when: datetime,
        *,
        actor: Actor,
        by_player: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> tuple[MatchInfo, datetime | None]:
        """Give ``match`` (locked by the caller's transaction ``outbox``) the time ``when``:
        checked, audited ("match.reschedule", with ``details``) and announced with a
        :class:`MatchRescheduledEvent` (from no time, too), so the players' DMs and the room
        scheduler follow. The one way a match's time changes: organizers through
        :meth:`reschedule`, players' agreed proposals through ``core.tournaments.proposals``
        (``by_player``: refusals say what a player can do). The caller checked who may."""
        self._check_future(when)
        session = outbox.session
        match_id = _id(match)
        await self.check_movable(session, match, by_player=by_player)
        old = match.scheduled_at
        if old == when:
            raise UserFacingError(
                f"Match #{match_id} is already set for {show_time(when)}; nothing changed."
            )
        match.scheduled_at = when
        # A room that could not be opened (or was missed) is tried afresh at the new time.
        await delete_failed_claim(session, match_id)
        match.room_error = None
        await session.flush()
        # A time players were still agreeing on no longer counts: this one was set.
        overtaken = await overtake_live_proposal(session, match_id, OVERTAKEN_BY_TIME)
        mover = await _user(session, actor)
        await self._audit.record(
            session, "match.reschedule", actor_discord_id=actor.discord_id,
            guild_id=tournament.guild_id,
            details={
                "match_id": match_id,
                "old": old.isoformat() if old else None, "new": when.isoformat(),
                **({"proposal_overtaken": overtaken} if overtaken else {}),
                **(details or {}),
            },
        )
        outbox.add(
            MatchRescheduledEvent(
                match_id=match_id, tournament_id=tournament.id or 0,
                old_scheduled_at=old, scheduled_at=when,
                user_id=mover.id, occurred_at=self._clock.now(),
            )
        )
        return await self._info(session, match, tournament), old

    async def update(
        self,
        guild_id: int,
        match_id: int,
        *,
        actor: Actor,
        when: datetime | None = None,
        title: str | None = None,
        goal: str | _Unset | None = UNSET,
        round: str | _Unset | None = UNSET,
    ) -> tuple[MatchInfo, tuple[str, ...]]:
        """Change what is given of a match still to be played (a new time only before its
        room opens, as :meth:`reschedule`); ``None`` keeps the time and title, ``UNSET``
        the goal and round (``None`` clears those: the tournament's goal, no round).
        Returns the match and the names of the fields that changed (none: nothing written).
        A new time is a ``MatchRescheduledEvent``, so the players are told."""
        await self._access.require(actor, Permission.SCHEDULE_MATCHES, guild_id)
        wanted: dict[str, Any] = {}
        if when is not None:
            self._check_future(when)
            wanted["scheduled_at"] = when
        if title is not None:
            wanted["title"] = clean_title(title)
        if not isinstance(goal, _Unset):
            wanted["goal"] = clean_goal(goal)
        if not isinstance(round, _Unset):
            wanted["round"] = clean_round(round)
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            match, tournament = await self._find(session, guild_id, match_id, for_update=True)
            changes = {
                field: value for field, value in wanted.items()
                if getattr(match, field) != value
            }
            if changes:
                check_changeable(match.status, f"Match #{match_id}")
            old = match.scheduled_at
            if "scheduled_at" in changes:
                await self.check_movable(session, match)
                await delete_failed_claim(session, match_id)
                match.room_error = None
                # A time players were still agreeing on no longer counts: this one was set.
                await overtake_live_proposal(session, match_id, OVERTAKEN_BY_TIME)
            for field, value in changes.items():
                setattr(match, field, value)
            if not changes:
                return await self._info(session, match, tournament), ()
            await session.flush()
            changer = await _user(session, actor)
            await self._audit.record(
                session, "match.update", actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details={
                    "match_id": match_id,
                    **{
                        field: value.isoformat() if isinstance(value, datetime) else value
                        for field, value in changes.items()
                    },
                    **({"old_scheduled_at": old.isoformat() if old else None}
                       if "scheduled_at" in changes else {}),
                },
            )
            if "scheduled_at" in changes:
                outbox.add(
                    MatchRescheduledEvent(
                        match_id=match_id, tournament_id=tournament.id or 0,
                        old_scheduled_at=old, scheduled_at=changes["scheduled_at"],
                        user_id=changer.id, occurred_at=self._clock.now(),
                    )
                )
            return await self._info(session, match, tournament), tuple(changes)

    async def cancel(
        self, guild_id: int, match_id: int, reason: str, *, actor: Actor
    ) -> MatchInfo:
        """Call a match off; the players are told ``reason``. A finished match keeps its
        results and cannot be cancelled; an open room stays open on racetime."""
        await self._access.require(actor, Permission.SCHEDULE_MATCHES, guild_id)
        reason = clean_reason(reason)
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            match, tournament = await self._find(session, guild_id, match_id, for_update=True)
            check_cancellable(match.status, f"Match #{match_id}", "keeps its results")
            match.status = RaceStatus.CANCELLED.value
            await session.flush()
            overtaken = await overtake_live_proposal(session, match_id, OVERTAKEN_BY_CANCEL)
            canceller = await _user(session, actor)
            await self._audit.record(
                session, "match.cancel", actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details={"match_id": match_id, "reason": reason,
                         **({"proposal_overtaken": overtaken} if overtaken else {})},
            )
            outbox.add(
                MatchCancelledEvent(
                    match_id=match_id, tournament_id=tournament.id or 0, reason=reason,
                    user_id=canceller.id, occurred_at=self._clock.now(),
                )
            )
            return await self._info(session, match, tournament)

    # -- reading -----------------------------------------------------------------------------

    async def info(self, guild_id: int, match_id: int) -> MatchInfo:
        """Everything about one match of this server, including why it has no room yet."""
        async with self._sessionmaker() as session:
            match, tournament = await self._find(session, guild_id, match_id)
            info = await self._info(session, match, tournament)
        reason = await self._readiness.why_no_room(info, self._clock.now())
        return _with_reason(info, reason)

    async def list_upcoming(
        self, guild_id: int, tournament: str | None = None, *, limit: int = 25
    ) -> list[MatchInfo]:
        """Matches still to be played (of one tournament, when named), soonest first."""
        tournament_id = None
        if tournament is not None:
            tournament_id = (await self._tournaments.get(guild_id, tournament)).id
        async with self._sessionmaker() as session:
            rows = await queries.upcoming_matches(
                session, guild_id, tournament_id=tournament_id, limit=limit
            )
            return await self._infos(session, rows)

    async def suggest(
        self, guild_id: int, typed: str, *, open_only: bool = False, without_room: bool = False,
        active_only: bool = False,
    ) -> list[tuple[int, str]]:
        """(id, label) pairs for autocomplete, e.g. ``#12 · Spring Cup · Semi-final ·
        2026-12-01 19:00 UTC``; ``open_only`` leaves out finished and cancelled matches,
        ``without_room`` those with a room (or one being opened), ``active_only`` those of
        archived tournaments."""
        async with self._sessionmaker() as session:
            rows = await queries.search_matches(
                session, guild_id, typed, open_only=open_only, without_room=without_room,
                active_only=active_only,
            )
        return [(_id(match), _label(match, tournament)) for match, tournament in rows]

    def now(self) -> datetime:
        return self._clock.now()

    # -- helpers -----------------------------------------------------------------------------

    def _check_future(self, when: datetime) -> None:
        check_future(when, self._clock.now())

    def check_time(self, when: datetime) -> None:
        """Refuse a time in the past (or years ahead), as scheduling a match does."""
        self._check_future(when)

    async def _find(
        self, session: AsyncSession, guild_id: int, match_id: int, *, for_update: bool = False
    ) -> tuple[Match, Tournament]:
        found = await queries.match_in_guild(session, guild_id, match_id, for_update=for_update)
        if found is None:
            raise NotFoundError(
                f"There is no match #{match_id} in this server. `/match list` shows the "
                "upcoming ones."
            )
        return found

    async def check_movable(
        self, session: AsyncSession, match: Match, *, by_player: bool = False
    ) -> None:
        if match.status == RaceStatus.CANCELLED:
            then = (
                "Ask an organizer if it is to be played after all."
                if by_player else "Schedule a new one with `/match schedule`."
            )
            raise UserFacingError(
                f"Match #{match.id} is cancelled, so it cannot be rescheduled. {then}"
            )
        if match.status == RaceStatus.FINISHED:
            raise UserFacingError(f"Match #{match.id} is finished, so it cannot be rescheduled.")
        await self.check_room_not_open(session, match, by_player=by_player)

    async def check_room_not_open(
        self, session: AsyncSession, match: Match, *, by_player: bool = False
    ) -> None:
        """Refuse to move a match whose room is open (or being opened), saying what to do
        instead: organizers cancel and schedule anew, players ask an organizer."""
        room = await self._room(session, match)
        opened = match.status != RaceStatus.SCHEDULED or room.status not in (
            RoomStatus.NONE, RoomStatus.FAILED,
        )
        if not opened:
            return
        where = f" ({room.url})" if room.url else ""
        instead = (
            "Race at the set time in the open room, or ask an organizer if it must move."
            if by_player else
            "Cancel the match with `/match cancel` and schedule a new one if it must move."
        )
        raise UserFacingError(
            f"Match #{match.id}'s room is already {room.status.value}{where}, so its time "
            f"can no longer change. {instead}"
        )

    async def _room(self, session: AsyncSession, match: Match) -> RoomInfo:
        match_id = _id(match)
        room = await queries.race_room(session, match_id)
        claim = await queries.room_claim(session, match_id)
        return self._room_of(match, MatchDetails(
            rooms={match_id: room} if room is not None else {},
            claims={match_id: claim} if claim is not None else {},
        ))

    def _room_of(self, match: Match, details: MatchDetails) -> RoomInfo:
        room, claim = details.rooms.get(_id(match)), details.claims.get(_id(match))
        if room is not None:
            status = RACETIME_ROOM_STATUS.get(room.last_status or "open", RoomStatus.OPEN)
            return RoomInfo(status, f"{self._racetime_url}/{room.category}/{room.slug}")
        if claim is not None:
            url = f"{self._racetime_url}/{claim.category}/{claim.slug}" if claim.slug else None
            if claim.state == ClaimState.FAILED:
                return RoomInfo(RoomStatus.FAILED, url, claim.last_error)
            if claim.state == ClaimState.OPENED:
                return RoomInfo(RoomStatus.OPEN, url)
            return RoomInfo(RoomStatus.OPENING, url)
        if match.status == RaceStatus.FINISHED:
            return RoomInfo(RoomStatus.FINISHED)
        if match.status == RaceStatus.CANCELLED:
            return RoomInfo(RoomStatus.CANCELLED)
        return RoomInfo(RoomStatus.NONE)

    async def _info(self, session: AsyncSession, match: Match, tournament: Tournament) -> MatchInfo:
        [info] = await self._infos(session, [(match, tournament)])
        return info

    async def _infos(
        self, session: AsyncSession, rows: Sequence[tuple[Match, Tournament]]
    ) -> list[MatchInfo]:
        """The matches' infos, their details read for all of them at once."""
        details = await match_details(session, [_id(match) for match, _ in rows])
        return [self._info_of(match, tournament, details) for match, tournament in rows]

    def _info_of(
        self, match: Match, tournament: Tournament, details: MatchDetails
    ) -> MatchInfo:
        match_id = _id(match)
        settings = TournamentSettings.of(tournament)
        players = tuple(
            _player(player, user) for player, user in details.players.get(match_id, [])
        )
        goal, goal_from = _goal(match, settings)
        auto_match = match.auto_create_room
        seed = details.seeds.get(match_id)
        plan = details.breaks.get(match_id)
        return MatchInfo(
            id=match_id,
            guild_id=tournament.guild_id,
            tournament_id=_id(tournament),
            tournament=tournament.name,
            title=match.title,
            status=RaceStatus(match.status),
            scheduled_at=match.scheduled_at,
            # The tournament's current setting, as the room scheduler uses it: a change to it
            # moves every match's room (the column keeps the value at scheduling time).
            room_open_minutes_before=settings.room_open_minutes_before,
            goal=goal,
            goal_from=goal_from,
            invitational=match.invitational is not False,
            auto_create=settings.auto_create_rooms and auto_match is not False,
            auto_create_match=auto_match,
            tournament_auto_create=settings.auto_create_rooms,
            require_racetime_link=settings.require_racetime_link,
            players=players,
            room=self._room_of(match, details),
            room_error=match.room_error,
            seed=seed.text if seed is not None else None,
            breaks=breaks_text(
                timedelta(seconds=plan.duration_seconds), timedelta(seconds=plan.every_seconds)
            ) if plan is not None else None,
            round=match.round,
            fpa=tuple(fpa_note(call) for call in details.fpa_calls.get(match_id, [])),
        )


async def _user(session: AsyncSession, actor: Actor) -> User:
    """The application user of a person the policy let change a match."""
    assert actor.discord_id is not None
    return await get_or_create_user_by_discord_id(session, actor.discord_id)


def _with_reason(info: MatchInfo, reason: str | None) -> MatchInfo:
    return replace(info, room_reason=reason)


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def _player(player: MatchPlayer, user: User) -> PlayerInfo:
    return PlayerInfo(
        discord_id=user.discord_id,
        racetime_id=user.racetime_id,
        racetime_name=user.racetime_name,
        status=player.status,
        place=player.place,
        finish_time=player.finish_time,
        invite_error=player.invite_error,
    )


def _goal(match: Match, settings: TournamentSettings) -> tuple[str, str]:
    if match.goal:
        return match.goal, "match"
    if settings.default_goal:
        return settings.default_goal, "tournament"
    return DEFAULT_GOAL, "default"


def _label(match: Match, tournament: Tournament) -> str:
    when = utc_text(match.scheduled_at) if match.scheduled_at else "no time"
    label = f"#{match.id} · {tournament.name} · {match.title} · {when}"
    if match.status in (RaceStatus.FINISHED, RaceStatus.CANCELLED):
        label += f" ({match.status})"
    if len(label) <= 100:  # Discord's limit for a choice's name
        return label
    return label[:99] + "…"


def _unlinked_message(tournament: str, unlinked: list[int], names: Mapping[int, str]) -> str:
    listed = ", ".join(_name(player, names) for player in unlinked)
    verb = "has" if len(unlinked) == 1 else "have"
    return (
        f"**{tournament}** requires every player to link their racetime.gg account, and "
        f"{listed} {verb} not. Each of them can link with `{LINK_COMMAND}`; then schedule "
        "the match again."
    )
