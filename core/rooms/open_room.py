"""``/open-room``: a moderator looks at the room a match would get, then opens it by hand;
the HTTP API opens it the same way for an API token of the server.

Whoever asks, the access policy decides first (:data:`Permission.OPEN_ROOMS`: the server's
moderators, its API tokens, RaceDesk's automation). Every match is found through the asking
server (one server never previews or opens another's match); the room itself is opened by
:class:`MatchRoomService`, exactly once whoever asks, with the moderator's application user id
on ``RacetimeRoomOpenedEvent`` (a token's: the organizer who created it).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.errors import NotFoundError, UserFacingError
from core.identity import SYSTEM_USER_ID
from core.rooms.match_rooms import (
    MatchRoomService,
    OpeningStatus,
    RoomOpening,
    RoomPreview,
)
from core.rooms.rules import CHANGE_MATCH_CATEGORY, archived_message
from core.tournaments.matches import MatchService
from db.models import Match, RaceStatus, Tournament
from db.queries import matches as queries
from db.queries.users import get_or_create_user_by_discord_id

CLOSED_STATUSES = (RaceStatus.CANCELLED, RaceStatus.FINISHED)


@dataclass(frozen=True, slots=True)
class Invitee:
    """A linked player: invited to the room as ``racetime_name``."""

    discord_id: int
    racetime_name: str


@dataclass(frozen=True, slots=True)
class OpenRoomPreview:
    """What Confirm would do, and what stands in its way."""

    room: RoomPreview
    status: RaceStatus
    invited: tuple[Invitee, ...]

    @property
    def closed(self) -> bool:
        """Cancelled or finished: such a match gets no room."""
        return self.status in CLOSED_STATUSES

    @property
    def can_open(self) -> bool:
        """Confirm could open a room: the match is still to be played and has no room (or
        its opening failed, which a moderator may try again)."""
        existing = self.room.existing
        return not self.closed and (
            existing is None or existing.status is OpeningStatus.FAILED
        )


def not_found(match_id: int) -> NotFoundError:
    return NotFoundError(
        f"There is no match #{match_id} in this server. Pick one from the suggestions; "
        "`/match list` shows the upcoming ones."
    )


def closed_message(match_id: int, status: RaceStatus) -> str:
    if status is RaceStatus.CANCELLED:
        return (
            f"Match #{match_id} is cancelled, so it gets no room. Schedule a new match with "
            "`/match schedule` if it is to be played after all."
        )
    return f"Match #{match_id} is finished and keeps its results; it gets no new room."


class OpenRoomService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        rooms: MatchRoomService,
        matches: MatchService,
        audit: AuditService,
        *,
        access: AccessPolicy,
    ) -> None:
        self._access = access
        self._sessionmaker = sessionmaker
        self._rooms = rooms
        self._matches = matches
        self._audit = audit

    async def suggest(self, guild_id: int, typed: str, *, actor: Actor) -> list[tuple[int, str]]:
        """(id, label) pairs for autocomplete: this server's matches still to be played that
        have no room yet, of tournaments not archived."""
        await self._access.require(actor, Permission.OPEN_ROOMS, guild_id)
        return await self._matches.suggest(
            guild_id, typed, open_only=True, without_room=True, active_only=True
        )

    async def preview(self, guild_id: int, match_id: int, *, actor: Actor) -> OpenRoomPreview:
        """The room the server's match ``match_id`` would get, and who would be invited."""
        await self._access.require(actor, Permission.OPEN_ROOMS, guild_id)
        async with self._sessionmaker() as session:
            match = await self._find(session, guild_id, match_id)
            await _check_active(session, match)
            players = await queries.players_of(session, match_id)
        invited = tuple(
            Invitee(user.discord_id, user.racetime_name or user.racetime_id or "")
            for _, user in players
            if user.racetime_id
        )
        room = await self._rooms.preview_room(match_id)
        shown = OpenRoomPreview(room, RaceStatus(match.status), invited)
        if shown.can_open:  # refused now, not once the moderator has confirmed
            await self._access.require_room_opening(
                actor, guild_id, room.category, change=CHANGE_MATCH_CATEGORY
            )
        return shown

    async def open(self, guild_id: int, match_id: int, *, actor: Actor) -> RoomOpening:
        """Open the server's match's room for ``actor`` (``RacetimeRoomOpenedEvent`` carries
        their application user id); its existing room if it has one.

        A room this call opened is in the audit log (``match.open_room``). Raises
        :class:`UserFacingError` for a match that is cancelled or finished, or whose racetime
        bot is not running here, and :class:`PermissionDeniedError` for whoever may not.
        """
        await self._access.require(actor, Permission.OPEN_ROOMS, guild_id)
        async with self._sessionmaker.begin() as session:
            match = await self._find(session, guild_id, match_id)
            status = RaceStatus(match.status)
            if status in CLOSED_STATUSES:
                raise UserFacingError(closed_message(match_id, status))
            await _check_active(session, match)
            actor_user_id = await _application_user(session, actor)
        opening = await self._rooms.create_race_room_for_match(
            match_id, actor_user_id=actor_user_id, reason="manual", actor=actor
        )
        if opening.status in (OpeningStatus.OPENED, OpeningStatus.ADOPTED):
            async with self._sessionmaker.begin() as session:
                await self._audit.record(
                    session, "match.open_room",
                    actor_discord_id=None if actor.is_system else actor.discord_id,
                    guild_id=guild_id,
                    details={"match_id": match_id, "room": f"{opening.category}/{opening.slug}"},
                )
        return opening

    async def _find(self, session: AsyncSession, guild_id: int, match_id: int) -> Match:
        found = await queries.match_in_guild(session, guild_id, match_id)
        if found is None:
            raise not_found(match_id)
        return found[0]


async def _check_active(session: AsyncSession, match: Match) -> None:
    """Refuse a match of an archived tournament: it gets no room, whoever asks."""
    tournament = await session.get(Tournament, match.tournament_id)
    if tournament is not None and not tournament.is_active:
        raise UserFacingError(archived_message(tournament))


async def _application_user(session: AsyncSession, actor: Actor) -> int:
    """The user id an opening is recorded under: the person's (a token's creator's), or the
    system's."""
    if actor.is_system:
        return SYSTEM_USER_ID
    assert actor.discord_id is not None
    user = await get_or_create_user_by_discord_id(session, actor.discord_id)
    assert user.id is not None
    return user.id
