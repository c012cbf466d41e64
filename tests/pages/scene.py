"""A server with public and private tournaments on the real database: matches upcoming,
live (a room open), finished (places and times) and cancelled, for the public pages' tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor
from core.audit import AuditService
from core.calendars import CalendarFeedService, CalendarSettings
from core.clock import ManualClock
from core.event_store.event_log import DatabaseEventLog
from core.pages import PublicPageService
from core.tournaments.matches import MatchService
from core.tournaments.tournaments import TournamentService
from db.models import Match, MatchPlayer, RaceRoom, RaceStatus, RacetimeBot, RacetimeBotGuild, User
from db.secrets import SecretBox

GUILD, OTHER_GUILD = 111_111_111_111_111_111, 222_222_222_222_222_222
BOSS = 900_000_000_000_000_001
BY_BOSS = Actor.server_admin(BOSS, GUILD)
BY_BOSS_THERE = Actor.server_admin(BOSS, OTHER_GUILD)
ADA, BOB, CY = 900_000_000_000_000_011, 900_000_000_000_000_012, 900_000_000_000_000_013
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PUBLIC_URL = "https://racedesk.example.org"
RACETIME = "https://racetime.example"
MARKUP = "<script>alert(1)</script>"


@dataclass
class Scene:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: ManualClock
    tournaments: TournamentService
    matches: MatchService
    feeds: CalendarFeedService
    pages: PublicPageService
    cup_id: int  # "Winter Cup", public
    private_id: int  # "Secret Cup"
    upcoming_id: int
    later_id: int
    live_id: int
    finished_id: int
    cancelled_id: int


async def build_scene(
    sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> Scene:
    clock = ManualClock(NOW)
    audit = AuditService(sessionmaker)
    access = AccessPolicy(sessionmaker, audit)
    tournaments = TournamentService(sessionmaker, audit, access=access)
    matches = MatchService(
        sessionmaker, DatabaseEventLog(sessionmaker, clock=clock), audit, tournaments, clock,
        access=access, racetime_url=RACETIME,
    )
    feeds = CalendarFeedService(
        sessionmaker, audit, clock, secret_box, tournaments, access=access,
        settings=CalendarSettings(PUBLIC_URL), racetime_url=RACETIME,
    )
    pages = PublicPageService(
        sessionmaker, clock, calendars=feeds, public_url=PUBLIC_URL, racetime_url=RACETIME
    )
    async with sessionmaker.begin() as session:
        bot = RacetimeBot(category="alttpr", display_name="alttpr", client_id="id",
                          client_secret_encrypted=b"sealed")
        session.add(bot)
        await session.flush()
        assert bot.id is not None
        session.add_all(RacetimeBotGuild(bot_id=bot.id, guild_id=g) for g in (GUILD, OTHER_GUILD))
        session.add_all([
            User(discord_id=ADA, racetime_id="rtAda0000000000", racetime_name="Ada#0001"),
            User(discord_id=BOB, racetime_id="rtBob0000000000", racetime_name=f"Bob{MARKUP}"),
        ])
    cup = await tournaments.create(
        GUILD, "Winter Cup", category="alttpr", actor=BY_BOSS, default_goal="All dungeons"
    )
    await tournaments.update_settings(GUILD, "Winter Cup", actor=BY_BOSS, public=True)
    secret = await tournaments.create(GUILD, "Secret Cup", category="alttpr", actor=BY_BOSS)
    await tournaments.create(OTHER_GUILD, "Their Cup", category="alttpr", actor=BY_BOSS_THERE)
    await tournaments.update_settings(OTHER_GUILD, "Their Cup", actor=BY_BOSS_THERE, public=True)

    async def schedule(title: str, hours: float, players: list[int], **more: object) -> int:
        found = await matches.schedule(
            GUILD, "Winter Cup", players, NOW + timedelta(hours=hours), title,
            actor=BY_BOSS, **more,  # type: ignore[arg-type]
        )
        return found.id

    later = await schedule("Final", 48, [ADA, BOB])
    upcoming = await schedule("Semi-final 1", 24, [ADA, BOB], round="Top 4")
    live = await schedule("Semi-final 2", 2, [ADA, BOB, CY], goal="Any% NMG")
    finished = await schedule("Quarter-final", 3, [ADA, BOB, CY])
    cancelled = await schedule("Quarter-final 2", 4, [ADA, BOB])
    await matches.schedule(GUILD, "Secret Cup", [ADA, BOB], NOW + timedelta(hours=5),
                           "Hidden match", actor=BY_BOSS)
    async with sessionmaker.begin() as session:
        live_match = await session.get(Match, live)
        assert live_match is not None
        live_match.status = RaceStatus.IN_PROGRESS.value
        session.add(RaceRoom(category="alttpr", slug="clever-link-1234", match_id=live))
        done = await session.get(Match, finished)
        assert done is not None
        done.status = RaceStatus.FINISHED.value
        players = list((await session.execute(
            MatchPlayer.__table__.select().where(MatchPlayer.match_id == finished)  # type: ignore[attr-defined]
        )).all())
        assert len(players) == 3
        results = {ADA: (2, timedelta(hours=1, minutes=42, seconds=7)),
                   BOB: (1, timedelta(hours=1, minutes=39, seconds=58, microseconds=400000))}
        for row in players:
            player = await session.get(MatchPlayer, row.id)
            assert player is not None
            user = await session.get(User, player.user_id)
            assert user is not None
            place, time = results.get(user.discord_id, (None, None))
            player.place, player.finish_time = place, time
            player.status = "done" if place else "dnf"
        gone = await session.get(Match, cancelled)
        assert gone is not None
        gone.status = RaceStatus.CANCELLED.value
    return Scene(
        sessionmaker, clock, tournaments, matches, feeds, pages, cup.id, secret.id, upcoming,
        later, live, finished, cancelled,
    )
