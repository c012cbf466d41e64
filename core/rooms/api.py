"""The match-room HTTP API's rules: open a match's room for an API token, or describe it.

The room is opened by :class:`OpenRoomService`, the service behind ``/open-room``, with the
token's server: a match of another server is "not found", and asking twice answers the room
the first call opened (the room service opens at most one room per match).

A closed match, or one whose racetime bot no longer serves the server, is refused before
anything changes. A ``goal`` or ``invitational`` in the request becomes the match's own
setting (as ``/match schedule`` would set it) *before* the room opens, and is in the audit
log (``match.room_options``). Once the match has a room, a request for a different goal or
invitational setting is refused (:class:`RoomConflictError`); the same values, or none,
answer the existing room. ``RacetimeRoomOpenedEvent`` carries the user id of the organizer
who created the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Permission
from core.accounts.api_tokens import ApiTokenInfo
from core.audit import AuditService
from core.errors import NotFoundError, UserFacingError
from core.rooms.match_rooms import OpeningStatus, RoomOpening
from core.rooms.open_room import OpenRoomPreview, OpenRoomService, closed_message
from core.rooms.rules import CHANGE_MATCH_CATEGORY
from core.tournaments.tournaments import clean_goal
from db.models import ClaimState
from db.queries import matches as queries


class RoomConflictError(UserFacingError):
    """The request contradicts the match's state (a room with other settings, a closed
    match, no racetime bot running for its category)."""


class RoomNotOpenedError(UserFacingError):
    """The room is being opened by someone else right now, or every attempt failed."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry  # asking again soon may answer the room


@dataclass(frozen=True, slots=True)
class OpenedRoom:
    """``POST /api/matches/{id}/racetime-room``'s answer."""

    room_slug: str
    room_url: str
    invited_players: tuple[str, ...]  # racetime names of the players racetime let in
    goal: str
    created: bool  # this call opened it (or adopted a room a lost answer left behind)


@dataclass(frozen=True, slots=True)
class RoomState:
    """``GET /api/matches/{id}/racetime-room``'s answer."""

    has_room: bool
    room_slug: str | None
    room_url: str | None
    created_at: datetime | None
    invited_count: int


class RoomApiService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        open_room: OpenRoomService,
        audit: AuditService,
        *,
        access: AccessPolicy,
        racetime_url: str,
    ) -> None:
        self._access = access
        self._sessionmaker = sessionmaker
        self._open_room = open_room
        self._audit = audit
        self._racetime_url = racetime_url.rstrip("/")

    async def open(
        self,
        token: ApiTokenInfo,
        match_id: int,
        *,
        goal: str | None = None,
        invitational: bool | None = None,
    ) -> OpenedRoom:
        """Open the token's server's match's room (or answer the one it has)."""
        actor = token.as_actor()
        await self._access.require(actor, Permission.OPEN_ROOMS, token.guild_id)
        goal = clean_goal(goal)
        try:
            shown = await self._open_room.preview(token.guild_id, match_id, actor=actor)
        except NotFoundError:
            raise api_not_found(match_id) from None
        # Refuse first, change nothing: a closed match, or a bot no longer serving the
        # server, keeps its settings.
        if shown.closed:
            raise UserFacingError(closed_message(match_id, shown.status))
        await self._access.require_room_opening(
            actor, token.guild_id, shown.room.category, change=CHANGE_MATCH_CATEGORY
        )
        existing = shown.room.existing
        if existing is not None and existing.status is not OpeningStatus.FAILED:
            _check_same(shown, goal, invitational)
        else:
            await self._apply_options(token, match_id, shown, goal, invitational)
        opening = await self._open_room.open(token.guild_id, match_id, actor=actor)
        async with self._sessionmaker() as session:
            in_room = await _players_in_room(session, match_id, set(opening.invited))
        return _answer(opening, shown, goal, in_room)

    async def state(self, token: ApiTokenInfo, match_id: int) -> RoomState:
        """Whether the token's server's match has a room, and which."""
        guild_id = token.guild_id
        await self._access.require(token.as_actor(), Permission.VIEW_MATCH_ROOMS, guild_id)
        async with self._sessionmaker() as session:
            if await queries.match_in_guild(session, guild_id, match_id) is None:
                raise api_not_found(match_id)
            room = await queries.race_room(session, match_id)
            claim = await queries.room_claim(session, match_id)
            linked = len(await _players_in_room(session, match_id))
        if room is not None:
            created = claim.opened_at if claim is not None and claim.opened_at else room.created_at
            return RoomState(
                True, room.slug, self._url(room.category, room.slug), created, linked
            )
        if claim is not None and claim.state == ClaimState.OPENED.value and claim.slug:
            return RoomState(
                True, claim.slug, self._url(claim.category, claim.slug), claim.opened_at, linked
            )
        return RoomState(False, None, None, None, 0)

    def _url(self, category: str, slug: str) -> str:
        return f"{self._racetime_url}/{category}/{slug}"

    async def _apply_options(
        self,
        token: ApiTokenInfo,
        match_id: int,
        shown: OpenRoomPreview,
        goal: str | None,
        invitational: bool | None,
    ) -> None:
        changes: dict[str, object] = {}
        if goal is not None and goal != shown.room.goal:
            changes["goal"] = goal
        if invitational is not None and invitational != shown.room.settings.invitational:
            changes["invitational"] = invitational
        if not changes:
            return
        async with self._sessionmaker.begin() as session:
            found = await queries.match_in_guild(
                session, token.guild_id, match_id, for_update=True
            )
            if found is None:
                raise api_not_found(match_id)
            match = found[0]
            for field, value in changes.items():
                setattr(match, field, value)
            await self._audit.record(
                session, "match.room_options", actor_discord_id=token.created_by_discord_id,
                guild_id=token.guild_id,
                details={"match_id": match_id, "token_id": token.id, **changes},
            )


def api_not_found(match_id: int) -> NotFoundError:
    """The API's "no such match": no suggestions or slash commands to point to over HTTP."""
    return NotFoundError(
        f"There is no match #{match_id} in the server of this API token; use the id of one "
        "of its matches."
    )


def _check_same(shown: OpenRoomPreview, goal: str | None, invitational: bool | None) -> None:
    match_id = shown.room.match_id
    if goal is not None and goal != shown.room.goal:
        raise RoomConflictError(
            f"Match #{match_id} already has a room with the goal \"{shown.room.goal}\"; "
            "its goal can no longer change. Leave `goal` out to get the room."
        )
    if invitational is not None and invitational != shown.room.settings.invitational:
        kind = "an invitational" if shown.room.settings.invitational else "an open"
        raise RoomConflictError(
            f"Match #{match_id} already has {kind} room; that can no longer change. "
            "Leave `invitational` out to get the room."
        )


async def _players_in_room(
    session: AsyncSession, match_id: int, let_in: set[str] | None = None
) -> tuple[str, ...]:
    """The racetime names of the match's players racetime shows in its room (the last
    snapshot), or whose invite racetime just took (``let_in``: racetime ids)."""
    room = await queries.race_room(session, match_id)
    shown = {
        ((entrant.get("user") or {}).get("id"))
        for entrant in ((room.last_race_data or {}).get("entrants") or [] if room else [])
        if isinstance(entrant, dict)
    }
    return tuple(
        user.racetime_name or user.racetime_id
        for _, user in await queries.players_of(session, match_id)
        if user.racetime_id and user.racetime_id in shown | (let_in or set())
    )


def _answer(
    opening: RoomOpening, shown: OpenRoomPreview, goal: str | None, in_room: tuple[str, ...]
) -> OpenedRoom:
    if opening.ok and opening.slug and opening.url:
        return OpenedRoom(
            room_slug=opening.slug,
            room_url=opening.url,
            invited_players=in_room,
            goal=goal or shown.room.goal,
            created=opening.status in (OpeningStatus.OPENED, OpeningStatus.ADOPTED),
        )
    if opening.status is OpeningStatus.ALREADY_OPENING:
        raise RoomNotOpenedError(
            f"Match #{opening.match_id}'s room is being opened right now; ask again in a few "
            "seconds.",
            retry=True,
        )
    raise RoomNotOpenedError(
        f"Match #{opening.match_id}'s room could not be opened: {opening.error or 'unknown'}",
        retry=False,
    )
