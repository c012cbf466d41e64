"""Calendar feeds: who gets which secret URL, and the feed a URL serves.

A player's feed (``/profile calendar``) has every match they play, in every server; a
tournament's feed (``/tournament calendar``, for its organizers) every match of that
tournament. Both are reached only through an unguessable URL: a token whose SHA-256 is the
look-up key. Unlike an API token, the URL can be shown again to whom it belongs (a calendar
app on a second device needs it), so the token is also kept encrypted (``SecretBox``), never
in plain text. ``reset`` revokes the URL at once and makes another; a revoked or unknown URL
answers the same: no feed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.calendars.feed import FeedMatch, Revision, build_calendar
from core.calendars.settings import CalendarSettings
from core.calendars.tokens import feed_token_hash, new_feed_token, plausible
from core.clock import Clock
from core.errors import UserFacingError
from core.tournaments.match_info import DEFAULT_GOAL
from core.tournaments.tournaments import TournamentService, TournamentSettings
from db.models import CalendarFeed, CalendarFeedKind, Match, RaceStatus, Tournament
from db.queries import calendars as queries
from db.queries.users import get_or_create_user_by_discord_id
from db.secrets import SecretBox

log = logging.getLogger(__name__)

PLAYER_FEED_NAME = "RaceDesk · my matches"


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed's secret URL, for the one it belongs to; ``created``: a new URL (the first, or
    after ``reset``); ``revoked``: the URL it replaced stopped working."""

    kind: CalendarFeedKind
    name: str  # the tournament's name, or the player feed's
    url: str
    created: bool
    revoked: bool = False

    def __repr__(self) -> str:  # keeps the secret URL out of logs and tracebacks
        return f"FeedLink(kind={self.kind!r}, name={self.name!r}, url='***')"


@dataclass(frozen=True, slots=True)
class RenderedFeed:
    """A feed's body (``text/calendar``) and its name; ``etag`` changes exactly when an
    event does (not with ``DTSTAMP``), ``last_modified`` is its latest change (None: empty)."""

    name: str
    body: bytes
    etag: str
    last_modified: datetime | None


class CalendarFeedService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditService,
        clock: Clock,
        secret_box: SecretBox,
        tournaments: TournamentService,
        *,
        access: AccessPolicy,
        settings: CalendarSettings | None = None,
        racetime_url: str = "https://racetime.gg",
    ) -> None:
        self._sessionmaker = sessionmaker
        self._audit = audit
        self._clock = clock
        self._box = secret_box
        self._tournaments = tournaments
        self._access = access
        self.settings = settings or CalendarSettings()
        self._racetime_url = racetime_url.rstrip("/")

    # -- the URLs ----------------------------------------------------------------------------

    async def player_feed(self, *, actor: Actor, reset: bool = False) -> FeedLink:
        """The asker's own feed URL, made the first time; ``reset`` replaces it."""
        if not actor.is_person or actor.discord_id is None:
            raise UserFacingError("Only a person has a calendar feed of their own.")
        discord_id = actor.discord_id
        for attempt in (1, 2):
            try:
                async with self._sessionmaker.begin() as session:
                    user = await get_or_create_user_by_discord_id(session, discord_id)
                    assert user.id is not None
                    return await self._link(
                        session, CalendarFeedKind.PLAYER, PLAYER_FEED_NAME, actor,
                        reset=reset, user_id=user.id,
                    )
            except IntegrityError:  # another request made the feed at the same moment
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def tournament_feed(
        self, guild_id: int, tournament: str, *, actor: Actor, reset: bool = False
    ) -> FeedLink:
        """The server's tournament's feed URL (organizers), made the first time; ``reset``
        replaces it."""
        await self._access.require(actor, Permission.MANAGE_TOURNAMENTS, guild_id)
        found = await self._tournaments.get(guild_id, tournament)
        for attempt in (1, 2):
            try:
                async with self._sessionmaker.begin() as session:
                    return await self._link(
                        session, CalendarFeedKind.TOURNAMENT, found.name, actor,
                        reset=reset, tournament_id=found.id, guild_id=guild_id,
                    )
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def published_tournament_feed(self, tournament_id: int) -> str | None:
        """The tournament's live feed URL, if its organizers made one; never makes one and
        asks no one: only for a tournament its organizers made public (``core.pages``)."""
        async with self._sessionmaker() as session:
            live = await queries.live_feed_of(session, tournament_id=tournament_id, lock=False)
            if live is None:
                return None
            token = self._box.decrypt(live.token_encrypted)
        return self.settings.feed_url(CalendarFeedKind.TOURNAMENT.value, token)

    async def _link(
        self,
        session: AsyncSession,
        kind: CalendarFeedKind,
        name: str,
        actor: Actor,
        *,
        reset: bool,
        tournament_id: int | None = None,
        user_id: int | None = None,
        guild_id: int | None = None,
    ) -> FeedLink:
        live = await queries.live_feed_of(session, tournament_id=tournament_id, user_id=user_id)
        if live is not None and not reset:
            token = self._box.decrypt(live.token_encrypted)
            return FeedLink(kind, name, self.settings.feed_url(kind.value, token), created=False)
        now = self._clock.now()
        assert actor.discord_id is not None
        details = {"kind": kind.value, "tournament_id": tournament_id}
        if live is not None:
            assert live.id is not None
            await queries.revoke_feed(session, live.id, now)
            await self._audit.record(
                session, "calendar_feed.revoke", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"feed_id": live.id, **details},
            )
            await session.flush()
        token = new_feed_token()
        row = CalendarFeed(
            kind=kind.value, guild_id=guild_id, tournament_id=tournament_id, user_id=user_id,
            token_hash=feed_token_hash(token), token_encrypted=self._box.encrypt(token),
            created_by_discord_id=actor.discord_id, created_at=now,
        )
        session.add(row)
        await session.flush()
        await self._audit.record(
            session, "calendar_feed.create", actor_discord_id=actor.discord_id,
            guild_id=guild_id, details={"feed_id": row.id, **details},
        )
        log.info("Calendar feed %s (%s) created", row.id, kind.value)
        return FeedLink(
            kind, name, self.settings.feed_url(kind.value, token), created=True,
            revoked=live is not None,
        )

    # -- the feeds ---------------------------------------------------------------------------

    async def render(self, kind: str, token: str) -> RenderedFeed | None:
        """The feed the URL ``/calendars/<kind>/<token>.ics`` serves; None for a URL that is
        unknown, revoked, or of another kind (all alike to the one asking)."""
        if kind not in tuple(CalendarFeedKind) or not plausible(token):
            return None
        async with self._sessionmaker.begin() as session:
            feed = await queries.live_feed_by_hash(session, feed_token_hash(token))
            if feed is None or feed.kind != kind:
                return None
            if feed.tournament_id is not None:
                tournament = await session.get(Tournament, feed.tournament_id)
                assert tournament is not None
                name = f"RaceDesk · {tournament.name}"
                rows = await queries.dated_matches(session, tournament_id=feed.tournament_id)
            else:
                name = PLAYER_FEED_NAME
                rows = await queries.dated_matches(session, user_id=feed.user_id)
            matches = await self._feed_matches(session, rows)
            revisions = await self._revisions(session, matches)
        now = self._clock.now()
        shown = [(match, revisions[match.id]) for match in matches]
        body = build_calendar(
            name, shown, host=self.settings.host, now=now, duration=self.settings.duration
        )
        versions = "|".join(f"{match.id}:{revision.sequence}" for match, revision in shown)
        etag = hashlib.sha256(f"{name}|{self.settings.duration}|{versions}".encode()).hexdigest()
        last = max((revision.changed_at for _, revision in shown), default=None)
        return RenderedFeed(name, body, etag[:32], last)

    async def _feed_matches(
        self, session: AsyncSession, rows: Sequence[tuple[Match, Tournament]]
    ) -> list[FeedMatch]:
        ids = [_id(match) for match, _ in rows]
        players = await queries.players_of_matches(session, ids)
        rooms = await queries.rooms_of_matches(session, ids)
        found = []
        for match, tournament in rows:
            assert match.scheduled_at is not None
            settings = TournamentSettings.of(tournament)
            room = rooms.get(_id(match))
            found.append(FeedMatch(
                id=_id(match),
                tournament=tournament.name,
                title=match.title,
                starts_at=match.scheduled_at,
                cancelled=match.status == RaceStatus.CANCELLED,
                finished=match.status == RaceStatus.FINISHED,
                goal=match.goal or settings.default_goal or DEFAULT_GOAL,
                players=tuple(user.racetime_name or "" for user in players.get(_id(match), [])),
                room_url=f"{self._racetime_url}/{room[0]}/{room[1]}" if room else None,
                round=match.round,
                room_opens_minutes_before=(
                    settings.room_open_minutes_before
                    if settings.auto_create_rooms and match.auto_create_room is not False
                    else None
                ),
            ))
        return found

    async def _revisions(
        self, session: AsyncSession, matches: Sequence[FeedMatch]
    ) -> dict[int, Revision]:
        """Each event's revision: a new one whenever what it shows has changed since a feed
        last showed it (whatever changed the match: a command, the API, an import)."""
        ids = [match.id for match in matches]
        known = await queries.revisions_of(session, ids)
        now = self._clock.now()
        changed = False
        for match in matches:
            fingerprint = match.fingerprint(self.settings.duration)
            seen = known.get(match.id)
            if seen is None:
                await queries.add_revision(session, match.id, fingerprint, now)
                changed = True
            elif seen.fingerprint != fingerprint:
                await queries.bump_revision(session, match.id, seen.fingerprint, fingerprint, now)
                changed = True
        if changed:
            session.expire_all()
            known = await queries.revisions_of(session, ids)
        return {
            match_id: Revision(revision.sequence, revision.changed_at)
            for match_id, revision in known.items()
        }


def _id(row: Match) -> int:
    assert row.id is not None
    return row.id
