"""Public pages: a server's public tournaments and each one's page, read without logging in.

Nothing here asks the access policy: there is no one to ask about. What is shown is decided
by the tournament's ``public`` setting alone, and a tournament that is not public, does not
exist or is another server's is the same answer, None (a 404 on the web), so the pages never
tell a private tournament from a missing one. Archived public tournaments keep their page
(their results are what people share); organizers turn ``public`` off before archiving to
hide one.

The tournament's calendar feed (``/tournament calendar``) has a secret URL. A public page
shows it when the tournament's organizers made one: the matches it lists are on the page
anyway, so making the tournament public makes its feed public too; ``/tournament calendar
reset:True`` replaces a feed URL that should stop working.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.calendars import CalendarFeedService
from core.clock import Clock
from core.pages.slugs import id_in, index_path, page_path, slug_of
from core.pages.view import (
    IndexEntry,
    MatchState,
    PageMatch,
    PagePlayer,
    Section,
    ServerIndex,
    TournamentPage,
)
from core.tournaments.match_info import DEFAULT_GOAL
from core.tournaments.tournaments import TournamentSettings
from db.models import Match, MatchPlayer, RaceStatus, Tournament, User
from db.queries import pages as queries
from db.queries import tournaments as tournament_queries
from db.queries.calendars import rooms_of_matches

# Ids beyond what the columns hold (a mistyped address) are no tournament and no server;
# PostgreSQL would refuse to compare them.
TOURNAMENT_ID_MAX, GUILD_ID_MAX = 2**31 - 1, 2**63 - 1
# A page stays one readable page: each list shows at most this many matches and says how
# many more there are.
SECTION_MAX = 100

_STATES = {
    RaceStatus.SCHEDULED.value: MatchState.UPCOMING,
    RaceStatus.ROOM_OPEN.value: MatchState.LIVE,
    RaceStatus.IN_PROGRESS.value: MatchState.LIVE,
    RaceStatus.FINISHED.value: MatchState.FINISHED,
    RaceStatus.CANCELLED.value: MatchState.CANCELLED,
}


class PublicPageService:
    """``public_url`` is ``[web] public_url``; ``calendars`` None: pages show no feed."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        calendars: CalendarFeedService | None = None,
        public_url: str = "http://localhost:8080",
        racetime_url: str = "https://racetime.gg",
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._calendars = calendars
        self._public_url = public_url.rstrip("/")
        self._racetime_url = racetime_url.rstrip("/")

    def page_url(self, guild_id: int, tournament_id: int) -> str:
        """The tournament's page on the public URL (it answers only while it is public)."""
        return self._public_url + page_path(guild_id, tournament_id)

    def index_url(self, guild_id: int) -> str:
        return self._public_url + index_path(guild_id)

    async def index(self, guild_id: int) -> ServerIndex | None:
        """The server's public tournaments; None when it has none (a 404, like a server
        RaceDesk does not know)."""
        if not 0 < guild_id <= GUILD_ID_MAX:
            return None
        entries = []
        async with self._sessionmaker() as session:
            for tournament in await self._public_of(session, guild_id):
                assert tournament.id is not None
                matches = await queries.matches_of(session, tournament.id)
                entries.append(IndexEntry(
                    id=tournament.id,
                    name=tournament.name,
                    path=page_path(guild_id, tournament.id),
                    active=tournament.is_active,
                    next_match_at=min(
                        (m.scheduled_at for m in matches if m.scheduled_at is not None
                         and _STATES.get(m.status) is MatchState.UPCOMING),
                        default=None,
                    ),
                    live=sum(_STATES.get(m.status) is MatchState.LIVE for m in matches),
                ))
        if not entries:
            return None
        return ServerIndex(
            guild_id=guild_id, path=index_path(guild_id), tournaments=tuple(entries),
            generated_at=self._clock.now(),
        )

    async def page(self, guild_id: int, segment: str) -> TournamentPage | None:
        """The page of the server's public tournament ``segment`` names (its id, or its
        slug); None for any other."""
        async with self._sessionmaker() as session:
            tournament = await self._find(session, guild_id, segment)
            if tournament is None:
                return None
            assert tournament.id is not None
            matches = await queries.matches_of(session, tournament.id)
            ids = [_id(match) for match in matches]
            entrants = await queries.entrants_of(session, ids)
            rooms = await rooms_of_matches(session, ids)
        settings = TournamentSettings.of(tournament)
        shown = [
            self._match(match, settings, entrants.get(_id(match), []), rooms.get(_id(match)))
            for match in matches
        ]
        calendar_url = (
            await self._calendars.published_tournament_feed(tournament.id)
            if self._calendars is not None else None
        )
        by_state = {state: [m for m in shown if m.state is state] for state in MatchState}
        results = sorted(
            by_state[MatchState.FINISHED],
            key=lambda m: (m.starts_at is not None, m.starts_at, m.id), reverse=True,
        )
        path = page_path(guild_id, tournament.id)
        return TournamentPage(
            guild_id=guild_id,
            id=tournament.id,
            name=tournament.name,
            path=path,
            url=self._public_url + path,
            active=tournament.is_active,
            category=tournament.racetime_category,
            live=_section(by_state[MatchState.LIVE]),
            upcoming=_section(by_state[MatchState.UPCOMING]),
            results=_section(results),
            cancelled=_section(by_state[MatchState.CANCELLED]),
            calendar_url=calendar_url,
            generated_at=self._clock.now(),
        )

    # -- helpers -----------------------------------------------------------------------------

    async def _public_of(self, session: AsyncSession, guild_id: int) -> list[Tournament]:
        rows = await tournament_queries.list_tournaments(session, guild_id, include_archived=True)
        return [row for row in rows if TournamentSettings.of(row).public]

    async def _find(
        self, session: AsyncSession, guild_id: int, segment: str
    ) -> Tournament | None:
        if not 0 < guild_id <= GUILD_ID_MAX:
            return None
        wanted = id_in(segment)
        if wanted is not None:
            if wanted > TOURNAMENT_ID_MAX:
                return None
            found = await tournament_queries.get_tournament(session, wanted)
            if found is None or found.guild_id != guild_id:
                return None
            return found if TournamentSettings.of(found).public else None
        slug = segment.lower()
        named = [t for t in await self._public_of(session, guild_id) if slug_of(t.name) == slug]
        return max(named, key=lambda t: t.id or 0, default=None) if slug else None

    def _match(
        self,
        match: Match,
        settings: TournamentSettings,
        entrants: Sequence[tuple[MatchPlayer, User]],
        room: tuple[str, str] | None,
    ) -> PageMatch:
        state = _STATES.get(match.status, MatchState.UPCOMING)
        ended = state is MatchState.FINISHED
        players = [
            PagePlayer(
                name=user.racetime_name,
                place=player.place if ended else None,
                finish_time=player.finish_time if ended else None,
                status=player.status if ended else None,
            )
            for player, user in entrants
        ]
        if ended:  # by place; those without one (forfeits) after, in entry order
            players.sort(key=lambda p: (p.place is None, p.place or 0))
        return PageMatch(
            id=_id(match),
            title=match.title,
            round=match.round,
            starts_at=match.scheduled_at,
            state=state,
            goal=match.goal or settings.default_goal or DEFAULT_GOAL,
            players=tuple(players),
            room_url=f"{self._racetime_url}/{room[0]}/{room[1]}" if room else None,
        )


def _section(matches: Sequence[PageMatch]) -> Section:
    return Section(tuple(matches[:SECTION_MAX]), max(0, len(matches) - SECTION_MAX))


def _id(match: Match) -> int:
    assert match.id is not None
    return match.id
