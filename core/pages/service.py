"""Public pages: a server's public tournaments and each one's page, read without logging in.
Match tournaments (``TournamentSettings.public``) and async tournaments
(``"public"`` in ``AsyncTournament.settings``, ``/async page``) alike.

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

An async tournament's page shows its pools, its live races and its leaderboards. Players are
named by their racetime.gg name; one who has not linked theirs is ``Player N``, N being their
place in the order players joined the tournament: the same on every board of the page, never
renumbered (leaving keeps one's place), and telling nothing about them. Lists are bounded (the
constants below) and say how many they leave out, so a page stays small at any size.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.calendars import CalendarFeedService
from core.clock import Clock
from core.live_races import rules
from core.live_races.async_tournaments import is_public
from core.live_races.leaderboard import SCORE_FORMULA, Standing, counted_runs, standings
from core.pages.slugs import async_page_path, id_in, index_path, page_path, slug_of
from core.pages.view import (
    AsyncPage,
    Board,
    BoardRow,
    IndexEntry,
    MatchState,
    PageLiveRace,
    PageMatch,
    PagePlayer,
    PagePool,
    RaceSection,
    Section,
    ServerIndex,
    TournamentPage,
)
from core.tournaments.match_info import DEFAULT_GOAL
from core.tournaments.tournaments import TournamentSettings
from db.models import (
    AsyncLiveRace,
    AsyncPoolRun,
    AsyncTournament,
    Match,
    MatchPlayer,
    RaceStatus,
    Tournament,
    User,
)
from db.queries import async_tournaments as async_queries
from db.queries import pages as queries
from db.queries import tournaments as tournament_queries
from db.queries.calendars import rooms_of_matches

# Ids beyond what the columns hold (a mistyped address) are no tournament and no server;
# PostgreSQL would refuse to compare them.
TOURNAMENT_ID_MAX, GUILD_ID_MAX = 2**31 - 1, 2**63 - 1
# A page stays one readable page: each list shows at most this many matches and says how
# many more there are.
SECTION_MAX = 100
# An async tournament's page: each leaderboard shows its best BOARD_MAX players, the page at
# most POOLS_MAX pools (and their boards), each list of live races RACES_MAX races and each
# finished race its first RESULTS_MAX runners; each says how many more there are. A board of
# a thousand players is then some 22 kB of HTML (names of 100 characters), not a megabyte.
BOARD_MAX, POOLS_MAX, RACES_MAX, RESULTS_MAX = 100, 20, 50, 30

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

    def async_page_url(self, guild_id: int, tournament_id: int) -> str:
        """The async tournament's page on the public URL (it answers only while it is
        public)."""
        return self._public_url + async_page_path(guild_id, tournament_id)

    def index_url(self, guild_id: int) -> str:
        return self._public_url + index_path(guild_id)

    async def index(self, guild_id: int) -> ServerIndex | None:
        """The server's public tournaments, match and async ones; None when it has none (a
        404, like a server RaceDesk does not know)."""
        if not 0 < guild_id <= GUILD_ID_MAX:
            return None
        entries = []
        async with self._sessionmaker() as session:
            for found in await self._public_asyncs_of(session, guild_id):
                assert found.id is not None
                races = await queries.live_races_of(session, found.id)
                entries.append(IndexEntry(
                    id=found.id,
                    name=found.name,
                    path=async_page_path(guild_id, found.id),
                    active=found.is_active,
                    next_match_at=min(
                        (r.scheduled_at for r in races
                         if _STATES.get(r.status) is MatchState.UPCOMING),
                        default=None,
                    ),
                    live=sum(_STATES.get(r.status) is MatchState.LIVE for r in races),
                    is_async=True,
                ))
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
        entries.sort(key=lambda e: (not e.active, e.name.casefold(), e.is_async, e.id))
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

    async def async_page(self, guild_id: int, segment: str) -> AsyncPage | None:
        """The page of the server's public async tournament ``segment`` names (its id, or
        its slug); None for any other."""
        async with self._sessionmaker() as session:
            tournament = await self._find_async(session, guild_id, segment)
            if tournament is None:
                return None
            assert tournament.id is not None
            pools = await async_queries.pools_of(session, tournament.id)
            races = await queries.live_races_of(session, tournament.id)
            results = await queries.race_results_of(session, tournament.id)
            runs = await counted_runs(session, tournament.id)
            numbers = await queries.join_order(session, tournament.id)
        pool_names = {pool.id: pool.name for pool in pools}
        shown = [
            self._race(race, tournament, pool_names, results.get(_id(race), []), numbers)
            for race in races
        ]
        by_state = {state: [r for r in shown if r.state is state] for state in MatchState}
        listed = pools[:POOLS_MAX]
        path = async_page_path(guild_id, tournament.id)
        return AsyncPage(
            guild_id=guild_id,
            id=tournament.id,
            name=tournament.name,
            path=path,
            url=self._public_url + path,
            active=tournament.is_active,
            category=tournament.racetime_category,
            goal=tournament.goal,
            pools=tuple(PagePool(pool.name, pool.description) for pool in listed),
            more_pools=len(pools) - len(listed),
            live=_races(by_state[MatchState.LIVE]),
            upcoming=_races(by_state[MatchState.UPCOMING]),
            results=_races(by_state[MatchState.FINISHED][::-1]),
            overall=_board(None, standings(runs), numbers),
            boards=tuple(
                _board(pool.name, standings(runs, pool.name), numbers) for pool in listed
            ),
            score_formula=SCORE_FORMULA,
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

    async def _public_asyncs_of(
        self, session: AsyncSession, guild_id: int
    ) -> list[AsyncTournament]:
        """Open ones first, then by name."""
        rows = await async_queries.list_tournaments(session, guild_id, include_closed=True)
        return [row for row in rows if is_public(row)]

    async def _find_async(
        self, session: AsyncSession, guild_id: int, segment: str
    ) -> AsyncTournament | None:
        if not 0 < guild_id <= GUILD_ID_MAX:
            return None
        wanted = id_in(segment)
        if wanted is not None:
            if wanted > TOURNAMENT_ID_MAX:
                return None
            found = await session.get(AsyncTournament, wanted)
            if found is None or found.guild_id != guild_id or not is_public(found):
                return None
            return found
        slug = segment.lower()
        named = [
            t for t in await self._public_asyncs_of(session, guild_id)
            if slug_of(t.name) == slug
        ]
        return max(named, key=lambda t: t.id or 0, default=None) if slug else None

    def _race(
        self,
        race: AsyncLiveRace,
        tournament: AsyncTournament,
        pool_names: dict[int | None, str],
        runs: Sequence[tuple[AsyncPoolRun, User]],
        numbers: dict[int, int],
    ) -> PageLiveRace:
        state = _STATES.get(race.status, MatchState.UPCOMING)
        ended = state is MatchState.FINISHED
        shown = runs[:RESULTS_MAX] if ended else []
        slug = race.racetime_slug
        return PageLiveRace(
            id=_id(race),
            pool=pool_names.get(race.pool_id) if race.pool_id is not None else None,
            starts_at=race.scheduled_at,
            state=state,
            goal=rules.goal(race, tournament),
            room_url=(
                f"{self._racetime_url}/{tournament.racetime_category}/{slug}" if slug else None
            ),
            results=tuple(
                PagePlayer(
                    name=user.racetime_name, place=run.place, finish_time=run.finish_time,
                    status=run.status, unlinked_label=_unlinked(user.discord_id, numbers),
                )
                for run, user in shown
            ),
            more_results=len(runs) - len(shown) if ended else 0,
        )

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


def _races(races: Sequence[PageLiveRace]) -> RaceSection:
    return RaceSection(tuple(races[:RACES_MAX]), max(0, len(races) - RACES_MAX))


def _board(pool: str | None, ranked: Sequence[Standing], numbers: dict[int, int]) -> Board:
    return Board(
        pool=pool,
        rows=tuple(
            BoardRow(
                rank=row.rank,
                player=PagePlayer(
                    name=row.racetime_name,
                    unlinked_label=_unlinked(row.player_discord_id, numbers),
                ),
                total=row.total,
                runs=row.runs,
            )
            for row in ranked[:BOARD_MAX]
        ),
        more=max(0, len(ranked) - BOARD_MAX),
    )


def _unlinked(discord_id: int, numbers: dict[int, int]) -> str | None:
    """``Player 3`` for the third to join; None for one who never joined (the page then says
    "a player not linked to racetime.gg")."""
    number = numbers.get(discord_id)
    return f"Player {number}" if number is not None else None


def _id(row: Match | AsyncLiveRace) -> int:
    assert row.id is not None
    return row.id
