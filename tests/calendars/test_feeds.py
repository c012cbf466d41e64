"""Calendar feeds on the real database (SQLite and PostgreSQL): what a feed says, read back
with ``icalendar`` and with a second, independent parser (``vobject``), and who gets which
secret URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import vobject
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor
from core.audit import AuditService
from core.calendars import CalendarFeedService, CalendarSettings
from core.calendars.tokens import FEED_TOKEN_PREFIX, feed_token_hash
from core.clock import ManualClock
from core.errors import NotFoundError, PermissionDeniedError
from core.event_store.event_log import DatabaseEventLog
from core.tournaments.match_info import MatchInfo
from core.tournaments.matches import MatchService
from core.tournaments.tournaments import TournamentService
from db.models import (
    CalendarFeed,
    ClaimState,
    MatchRoomClaim,
    RaceRoom,
    RacetimeBot,
    RacetimeBotGuild,
    User,
)
from db.secrets import SecretBox

GUILD, OTHER_GUILD = 111_111_111_111_111_111, 222_222_222_222_222_222
BOSS = 900_000_000_000_000_001
BY_BOSS = Actor.server_admin(BOSS, GUILD)
BY_BOSS_THERE = Actor.server_admin(BOSS, OTHER_GUILD)
ADA, BOB, CY = 900_000_000_000_000_011, 900_000_000_000_000_012, 900_000_000_000_000_013
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=2)
PUBLIC = "https://racedesk.example.org"
HOST = "racedesk.example.org"


class Setup:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = ManualClock(NOW)
        self.audit = AuditService(sessionmaker)
        self.access = AccessPolicy(sessionmaker, self.audit)
        self.tournaments = TournamentService(sessionmaker, self.audit, access=self.access)
        self.event_log = DatabaseEventLog(sessionmaker, clock=self.clock)
        self.matches = MatchService(
            sessionmaker, self.event_log, self.audit, self.tournaments, self.clock,
            access=self.access, racetime_url="https://racetime.example",
        )
        self.feeds = CalendarFeedService(
            sessionmaker, self.audit, self.clock, secret_box, self.tournaments,
            access=self.access, settings=CalendarSettings(PUBLIC, event_minutes=90),
            racetime_url="https://racetime.example",
        )

    async def schedule(
        self, title: str, players: list[int], when: datetime = LATER, *,
        guild: int = GUILD, tournament: str = "Winter Cup", goal: str | None = None,
    ) -> MatchInfo:
        actor = BY_BOSS if guild == GUILD else BY_BOSS_THERE
        return await self.matches.schedule(
            guild, tournament, players, when, title, actor=actor, goal=goal
        )

    async def fetch(self, url: str) -> bytes | None:
        kind, token = re.fullmatch(rf"{PUBLIC}/calendars/(\w+)/(.+)\.ics", url).groups()  # type: ignore[union-attr]
        rendered = await self.feeds.render(kind, token)
        return None if rendered is None else rendered.body


async def allow_alttpr(sessionmaker: async_sessionmaker[AsyncSession], *guilds: int) -> None:
    async with sessionmaker.begin() as session:
        bot = RacetimeBot(category="alttpr", display_name="alttpr", client_id="id",
                          client_secret_encrypted=b"sealed")
        session.add(bot)
        await session.flush()
        assert bot.id is not None
        session.add_all(RacetimeBotGuild(bot_id=bot.id, guild_id=guild) for guild in guilds)
        session.add_all([
            User(discord_id=ADA, racetime_id="rtAda0000000000", racetime_name="Ada#0001"),
            User(discord_id=BOB, racetime_id="rtBob0000000000", racetime_name="Bob#0002"),
        ])


@pytest.fixture
async def setup(
    db_sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> Setup:
    await allow_alttpr(db_sessionmaker, GUILD, OTHER_GUILD)
    result = Setup(db_sessionmaker, secret_box)
    await result.tournaments.create(
        GUILD, "Winter Cup", category="alttpr", actor=BY_BOSS, default_goal="All dungeons",
        room_open_minutes_before=45, auto_create_rooms=True,
    )
    await result.tournaments.create(
        OTHER_GUILD, "Their Cup", category="alttpr", actor=BY_BOSS_THERE
    )
    return result


def events_of(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def uid(match_id: int) -> str:
    return f"match-{match_id}@{HOST}"


# -- what a feed says --------------------------------------------------------------------------


async def test_a_tournament_feed_lists_its_matches_with_times_players_and_goal(
    setup: Setup,
) -> None:
    final = await setup.schedule("Final", [ADA, BOB, CY], LATER + timedelta(hours=3))
    semi = await setup.schedule("Semi-final", [ADA, BOB], LATER, goal="Any% NMG")
    await setup.schedule("Elsewhere", [ADA, BOB], guild=OTHER_GUILD, tournament="Their Cup")
    link = await setup.feeds.tournament_feed(GUILD, "winter cup", actor=BY_BOSS)
    assert link.url.startswith(f"{PUBLIC}/calendars/tournament/{FEED_TOKEN_PREFIX}")
    body = await setup.fetch(link.url)
    assert body is not None

    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "RaceDesk · Winter Cup"
    assert str(calendar["VERSION"]) == "2.0"
    events = events_of(body)
    assert list(events) == [uid(semi.id), uid(final.id)]  # by time; no other tournament's
    event = events[uid(final.id)]
    assert str(event["SUMMARY"]) == "Winter Cup · Final"
    starts = event.decoded("DTSTART")
    assert starts == LATER + timedelta(hours=3) and starts.utcoffset() == timedelta(0)
    assert event.decoded("DTEND") - starts == timedelta(minutes=90)  # event_minutes
    assert event.decoded("DTSTAMP") == NOW  # the injected clock's
    assert str(event["STATUS"]) == "CONFIRMED"
    description = str(event["DESCRIPTION"])
    assert "Players: Ada#0001 vs Bob#0002 vs a player not linked to racetime.gg" in description
    assert "Goal: All dungeons" in description  # the tournament's default
    assert "opens on racetime.gg 45 minutes before the start" in description
    assert "URL" not in event and "LOCATION" not in event  # no room yet
    assert "Goal: Any% NMG" in str(events[uid(semi.id)]["DESCRIPTION"])
    # In a tournament whose rooms an organizer opens, the feed promises no time.
    there = await setup.schedule("Elsewhere too", [ADA, BOB], guild=OTHER_GUILD,
                                 tournament="Their Cup")
    theirs = await setup.feeds.tournament_feed(OTHER_GUILD, "Their Cup", actor=BY_BOSS_THERE)
    description = str(events_of(await setup.fetch(theirs.url) or b"")[uid(there.id)]
                      ["DESCRIPTION"])
    assert "Race room: not open yet; this event will link it once it is." in description
    assert b"DTSTART:20261128T150000Z" in body  # UTC, as RFC 5545's form 2


async def test_matches_without_a_time_are_left_out(setup: Setup) -> None:
    kept = await setup.schedule("Kept", [ADA, BOB])
    undated = await setup.schedule("Undated", [ADA, BOB])
    async with setup.sessionmaker.begin() as session:
        from db.models import Match

        row = await session.get(Match, undated.id)
        assert row is not None
        row.scheduled_at = None
    link = await setup.feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_BOSS)
    body = await setup.fetch(link.url)
    assert body is not None
    assert list(events_of(body)) == [uid(kept.id)]


async def test_a_reschedule_keeps_the_uid_and_raises_the_sequence(setup: Setup) -> None:
    match = await setup.schedule("Final", [ADA, BOB])
    link = await setup.feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_BOSS)
    first = events_of(await setup.fetch(link.url) or b"")[uid(match.id)]
    assert first["SEQUENCE"] == 0
    again = events_of(await setup.fetch(link.url) or b"")[uid(match.id)]
    assert again["SEQUENCE"] == 0  # nothing changed: no new revision

    await setup.clock.advance(3600)
    await setup.matches.reschedule(GUILD, match.id, LATER + timedelta(days=1), actor=BY_BOSS)
    moved = events_of(await setup.fetch(link.url) or b"")
    assert list(moved) == [uid(match.id)]  # the same event, moved: no duplicate
    event = moved[uid(match.id)]
    assert event["SEQUENCE"] == 1
    assert event.decoded("DTSTART") == LATER + timedelta(days=1)
    assert event.decoded("LAST-MODIFIED") == NOW + timedelta(hours=1)
    assert event.decoded("DTSTAMP") == NOW + timedelta(hours=1)
    # The player's feed shows the same revision of the same event.
    mine = await setup.feeds.player_feed(actor=Actor.member(ADA, GUILD))
    theirs = events_of(await setup.fetch(mine.url) or b"")[uid(match.id)]
    assert theirs["SEQUENCE"] == 1


async def test_a_cancelled_match_stays_in_the_feed_as_cancelled(setup: Setup) -> None:
    match = await setup.schedule("Final", [ADA, BOB])
    link = await setup.feeds.player_feed(actor=Actor.member(BOB, GUILD))
    assert events_of(await setup.fetch(link.url) or b"")[uid(match.id)]["SEQUENCE"] == 0
    await setup.matches.cancel(GUILD, match.id, "Bob is ill", actor=BY_BOSS)
    event = events_of(await setup.fetch(link.url) or b"")[uid(match.id)]
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 1
    assert "Cancelled." in str(event["DESCRIPTION"])


async def test_the_room_url_appears_once_the_room_is_open(setup: Setup) -> None:
    match = await setup.schedule("Final", [ADA, BOB])
    link = await setup.feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_BOSS)
    async with setup.sessionmaker.begin() as session:  # being opened: no room yet
        session.add(MatchRoomClaim(match_id=match.id, category="alttpr", info="Final",
                                   reason="manual", state=ClaimState.OPENING.value))
    assert "URL" not in events_of(await setup.fetch(link.url) or b"")[uid(match.id)]
    async with setup.sessionmaker.begin() as session:  # as the room service records it
        session.add(RaceRoom(category="alttpr", slug="clever-cat-1234", match_id=match.id,
                             last_status="open", opened_by_us=True))
    event = events_of(await setup.fetch(link.url) or b"")[uid(match.id)]
    room = "https://racetime.example/alttpr/clever-cat-1234"
    assert str(event["URL"]) == room == str(event["LOCATION"])
    assert f"Race room: {room}" in str(event["DESCRIPTION"])
    assert event["SEQUENCE"] == 1


async def test_a_player_feed_has_their_matches_in_every_server_and_no_one_elses(
    setup: Setup,
) -> None:
    here = await setup.schedule("Here", [ADA, BOB])
    there = await setup.schedule("There", [ADA, CY], LATER + timedelta(hours=1),
                                 guild=OTHER_GUILD, tournament="Their Cup")
    await setup.schedule("Not Ada's", [BOB, CY])
    link = await setup.feeds.player_feed(actor=Actor.user(ADA))  # from a DM, too
    body = await setup.fetch(link.url)
    assert body is not None
    assert str(icalendar.Calendar.from_ical(body)["X-WR-CALNAME"]) == "RaceDesk · my matches"
    assert list(events_of(body)) == [uid(here.id), uid(there.id)]


async def test_a_second_calendar_library_reads_the_feed(setup: Setup) -> None:
    """vobject parses independently of icalendar (its own line unfolding, escaping, dates)."""
    match = await setup.schedule("Final, the last one; really", [ADA, BOB])
    cancelled = await setup.schedule("Spare", [ADA, BOB], LATER + timedelta(hours=2))
    await setup.matches.cancel(GUILD, cancelled.id, "Not needed", actor=BY_BOSS)
    async with setup.sessionmaker.begin() as session:
        session.add(RaceRoom(category="alttpr", slug="clever-cat-1234", match_id=match.id,
                             last_status="open", opened_by_us=True))
    link = await setup.feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_BOSS)
    body = await setup.fetch(link.url)
    assert body is not None

    calendar = vobject.readOne(body.decode())
    assert calendar.x_wr_calname.value == "RaceDesk · Winter Cup"
    events = {event.uid.value: event for event in calendar.vevent_list}
    assert set(events) == {uid(match.id), uid(cancelled.id)}
    event = events[uid(match.id)]
    assert event.summary.value == "Winter Cup · Final, the last one; really"
    assert event.dtstart.value == LATER
    assert event.dtend.value == LATER + timedelta(minutes=90)
    assert event.url.value == "https://racetime.example/alttpr/clever-cat-1234"
    assert "Players: Ada#0001 vs Bob#0002" in event.description.value
    assert int(event.sequence.value) == 0
    assert events[uid(cancelled.id)].status.value == "CANCELLED"


# -- the secret URLs ---------------------------------------------------------------------------


async def test_feed_urls_are_unguessable_shown_again_and_stored_hashed(setup: Setup) -> None:
    first = await setup.feeds.player_feed(actor=Actor.member(ADA, GUILD))
    assert first.created and not first.revoked
    again = await setup.feeds.player_feed(actor=Actor.member(ADA, GUILD))
    assert (again.url, again.created) == (first.url, False)  # the same URL, shown again
    other = await setup.feeds.player_feed(actor=Actor.member(BOB, GUILD))
    assert other.url != first.url
    token = first.url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= len(FEED_TOKEN_PREFIX) + 43  # 32 random bytes
    assert "***" in repr(first) and token not in repr(first)
    async with setup.sessionmaker() as session:
        rows = list((await session.execute(select(CalendarFeed))).scalars())
    assert {row.token_hash for row in rows} >= {feed_token_hash(token)}
    assert all(token.encode() not in row.token_encrypted for row in rows)  # encrypted
    [created, _] = await setup.audit.entries("calendar_feed.create")
    assert created.details["kind"] == "player"


async def test_reset_revokes_the_old_url_and_gives_a_new_one(setup: Setup) -> None:
    await setup.schedule("Final", [ADA, BOB])
    old = await setup.feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_BOSS)
    assert await setup.fetch(old.url) is not None
    new = await setup.feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_BOSS, reset=True)
    assert new.created and new.revoked and new.url != old.url
    assert await setup.fetch(old.url) is None  # revoked: no feed
    assert await setup.fetch(new.url) is not None
    shown = await setup.feeds.tournament_feed(GUILD, "Winter Cup", actor=BY_BOSS)
    assert shown.url == new.url
    [revoked] = await setup.audit.entries("calendar_feed.revoke")
    assert revoked.guild_id == GUILD and revoked.details["kind"] == "tournament"
    async with setup.sessionmaker() as session:
        live = await session.scalar(
            select(func.count()).select_from(CalendarFeed).where(
                CalendarFeed.revoked_at.is_(None)  # type: ignore[union-attr]
            )
        )
    assert live == 1


async def test_unknown_revoked_and_mismatched_urls_are_all_no_feed(setup: Setup) -> None:
    link = await setup.feeds.player_feed(actor=Actor.member(ADA, GUILD))
    token = link.url.rsplit("/", 1)[1].removesuffix(".ics")
    feeds = setup.feeds
    assert await feeds.render("player", token) is not None
    assert await feeds.render("tournament", token) is None  # a player's token, other kind
    assert await feeds.render("player", token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert await feeds.render("player", token.removeprefix(FEED_TOKEN_PREFIX)) is None
    assert await feeds.render("player", "cal_' OR 1=1 --") is None
    assert await feeds.render("player", FEED_TOKEN_PREFIX + "x" * 500) is None
    assert await feeds.render("event", token) is None


async def test_only_organizers_get_a_tournament_feed_and_only_of_their_server(
    setup: Setup,
) -> None:
    with pytest.raises(PermissionDeniedError):
        await setup.feeds.tournament_feed(GUILD, "Winter Cup", actor=Actor.member(ADA, GUILD))
    # An organizer of another server, from there, cannot name this server's tournament.
    with pytest.raises(NotFoundError):
        await setup.feeds.tournament_feed(OTHER_GUILD, "Winter Cup", actor=BY_BOSS_THERE)
    theirs = await setup.feeds.tournament_feed(OTHER_GUILD, "Their Cup", actor=BY_BOSS_THERE)
    ours = await setup.schedule("Ours", [ADA, BOB])
    assert uid(ours.id) not in events_of(await setup.fetch(theirs.url) or b"")
    assert await setup.audit.entries("calendar_feed.create") != []
    entries = await setup.audit.entries("calendar_feed.create")
    assert {entry.guild_id for entry in entries} == {OTHER_GUILD}
