"""MatchService on the real database: what each change writes, the one event it emits, the
audit behind it, and every refusal leaving nothing behind."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor
from core.audit import AuditService
from core.clock import ManualClock
from core.errors import NotFoundError, UserFacingError
from core.event_store.event_log import DatabaseEventLog
from core.events import (
    LoggedEvent,
    MatchCancelledEvent,
    MatchRescheduledEvent,
    MatchScheduledEvent,
)
from core.rooms.rules import opening_failed
from core.times.parsing import show_time
from core.tournaments.match_info import MatchInfo, RoomStatus
from core.tournaments.matches import MatchService, match_id_from
from core.tournaments.tournaments import TournamentService
from db.models import (
    ClaimState,
    EventLogEntry,
    FpaCall,
    Match,
    MatchPlayer,
    MatchRoomClaim,
    RaceRoom,
    RaceStatus,
    RacetimeBot,
    RacetimeBotGuild,
    RoomBreaks,
    RoomSeed,
    User,
)

GUILD, OTHER_GUILD = 111_111_111_111_111_111, 222_222_222_222_222_222
BOSS = 900_000_000_000_000_001
BY_BOSS = Actor.server_admin(BOSS, GUILD)  # the server's admin, as the services see them
BY_BOSS_THERE = Actor.server_admin(BOSS, OTHER_GUILD)
ADA, BOB, CY = 900_000_000_000_000_011, 900_000_000_000_000_012, 900_000_000_000_000_013
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=2)
# Its example: a day after NOW, on the next whole hour.
IN_THE_FUTURE = "Give a time in the future, e.g. `2026-11-27 13:00 UTC`."


class Setup:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.clock = ManualClock(NOW)
        self.audit = AuditService(sessionmaker)
        self.access = AccessPolicy(sessionmaker, self.audit)
        self.tournaments = TournamentService(sessionmaker, self.audit, access=self.access)
        self.event_log = DatabaseEventLog(sessionmaker, clock=self.clock)
        self.delivered: list[LoggedEvent] = []
        self.event_log.connect(self.delivered.extend)
        self.matches = MatchService(
            sessionmaker, self.event_log, self.audit, self.tournaments, self.clock,
            access=self.access, racetime_url="https://racetime.example",
        )

    @property
    def events(self) -> list[object]:
        return [entry.event for entry in self.delivered]

    async def schedule(self, players: list[int] | None = None, **options: object) -> MatchInfo:
        return await self.matches.schedule(
            GUILD, str(options.pop("tournament", "Winter Cup")), players or [ADA, BOB],
            options.pop("when", LATER), str(options.pop("title", "Semi-final")),  # type: ignore[arg-type]
            actor=BY_BOSS, **options,  # type: ignore[arg-type]
        )

    async def count(self, table: type) -> int:
        async with self.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(table)) or 0)

    async def user_id(self, discord_id: int) -> int:
        async with self.sessionmaker() as session:
            user = (
                await session.execute(select(User).where(User.discord_id == discord_id))
            ).scalar_one()
            assert user.id is not None
            return user.id

    async def link(self, discord_id: int, name: str) -> None:
        async with self.sessionmaker.begin() as session:
            session.add(User(discord_id=discord_id, racetime_id=f"rt{name:0>14}"[:16],
                             racetime_name=name))


@pytest.fixture
async def setup(db_sessionmaker: async_sessionmaker[AsyncSession]) -> Setup:
    async with db_sessionmaker.begin() as session:
        bot = RacetimeBot(category="alttpr", display_name="alttpr", client_id="id",
                          client_secret_encrypted=b"sealed")
        session.add(bot)
        await session.flush()
        assert bot.id is not None
        session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=GUILD))
    result = Setup(db_sessionmaker)
    await result.tournaments.create(
        GUILD, "Winter Cup", category="alttpr", actor=BY_BOSS,
        room_open_minutes_before=90, auto_create_rooms=True, default_goal="All dungeons",
    )
    return result


# -- schedule ----------------------------------------------------------------------------------


async def test_schedule_writes_the_match_and_emits_one_event(setup: Setup) -> None:
    info = await setup.schedule([ADA, BOB, CY])
    assert (info.tournament, info.title, info.scheduled_at) == ("Winter Cup", "Semi-final", LATER)
    assert info.room_open_minutes_before == 90  # copied from the tournament
    assert info.opens_at == LATER - timedelta(minutes=90)
    assert [p.discord_id for p in info.players] == [ADA, BOB, CY]
    assert (info.goal, info.goal_from, info.invitational, info.auto_create) == (
        "All dungeons", "tournament", True, True,
    )
    assert info.room.status is RoomStatus.NONE
    [event] = setup.events
    assert isinstance(event, MatchScheduledEvent)
    assert (event.match_id, event.tournament_id, event.scheduled_at) == (
        info.id, info.tournament_id, LATER,
    )
    assert event.user_id == await setup.user_id(BOSS)
    assert event.occurred_at == NOW
    assert await setup.count(EventLogEntry) == 1
    assert await setup.count(MatchPlayer) == 3
    [entry] = await setup.audit.entries("match.schedule")
    assert entry.guild_id == GUILD
    assert entry.details["match_id"] == info.id
    assert entry.details["players"] == [str(ADA), str(BOB), str(CY)]


async def test_schedule_keeps_the_overrides_given(setup: Setup) -> None:
    info = await setup.schedule(goal="  100%  ", invitational=False, auto_create=False)
    assert (info.goal, info.goal_from, info.invitational, info.auto_create) == (
        "100%", "match", False, False,
    )
    async with setup.sessionmaker() as session:
        match = await session.get(Match, info.id)
        assert match is not None
        assert (match.goal, match.invitational, match.auto_create_room) == ("100%", False, False)


@pytest.mark.parametrize(
    ("players", "options", "message"),
    [
        ([ADA], {}, "A match needs at least 2 players; 1 given. Mention every player, "
                    "e.g. `@Ada @Bob`."),
        ([ADA, BOB, ADA], {"display_names": {ADA: "Ada"}},
         "Each player can be in a match once; Ada is listed twice."),
        ([ADA, BOB], {"title": "   "}, "Give the match a title, e.g. `Semi-final 1`."),
        ([ADA, BOB], {"tournament": "Autumn Cup"},
         "There is no tournament called `Autumn Cup` in this server. `/tournament list` shows "
         "them; `/tournament create` makes one."),
        ([ADA, BOB], {"when": NOW}, f"{show_time(NOW)} is in the past. {IN_THE_FUTURE}"),
        ([ADA, BOB], {"when": NOW - timedelta(hours=1)},
         f"{show_time(NOW - timedelta(hours=1))} is in the past. {IN_THE_FUTURE}"),
    ],
)
async def test_schedule_refusals_write_nothing(
    setup: Setup, players: list[int], options: dict[str, object], message: str
) -> None:
    with pytest.raises(UserFacingError) as refused:
        await setup.schedule(players, **options)
    assert refused.value.message == message
    assert await setup.count(Match) == 0
    assert setup.events == []


async def test_an_archived_tournament_takes_no_matches(setup: Setup) -> None:
    await setup.tournaments.archive(GUILD, "Winter Cup", actor=BY_BOSS)
    with pytest.raises(UserFacingError, match="archived"):
        await setup.schedule()
    assert await setup.count(Match) == 0


async def test_unlinked_players_are_named_when_links_are_required(setup: Setup) -> None:
    await setup.tournaments.update_settings(
        GUILD, "Winter Cup", actor=BY_BOSS, require_racetime_link=True
    )
    await setup.link(ADA, "ada")
    with pytest.raises(UserFacingError) as refused:
        await setup.schedule([ADA, BOB, CY], display_names={BOB: "Bob"})
    assert refused.value.message == (
        "**Winter Cup** requires every player to link their racetime.gg account, and "
        f"Bob, <@{CY}> have not. Each of them can link with `/link-racetime`; then schedule "
        "the match again."
    )
    assert await setup.count(Match) == 0
    assert await setup.count(User) == 2  # the linked Ada and the organizer, nobody new
    await setup.link(BOB, "bob")
    info = await setup.schedule([ADA, BOB])
    assert [(p.racetime_name, p.linked) for p in info.players] == [("ada", True), ("bob", True)]


# -- reschedule and cancel ---------------------------------------------------------------------


async def test_reschedule_emits_the_old_and_new_time(setup: Setup) -> None:
    info = await setup.schedule()
    moved_to = LATER + timedelta(hours=3)
    moved, old = await setup.matches.reschedule(GUILD, info.id, moved_to, actor=BY_BOSS)
    assert (old, moved.scheduled_at) == (LATER, moved_to)
    event = setup.events[-1]
    assert isinstance(event, MatchRescheduledEvent)
    assert (event.match_id, event.old_scheduled_at, event.scheduled_at) == (
        info.id, LATER, moved_to,
    )
    assert len(setup.events) == 2
    [entry] = await setup.audit.entries("match.reschedule")
    assert entry.details == {
        "match_id": info.id, "old": LATER.isoformat(), "new": moved_to.isoformat(),
    }


async def test_reschedule_refusals(setup: Setup) -> None:
    info = await setup.schedule()
    cases = [
        (LATER, f"Match #{info.id} is already set for {show_time(LATER)}; nothing changed."),
        (NOW - timedelta(minutes=1),
         f"{show_time(NOW - timedelta(minutes=1))} is in the past. {IN_THE_FUTURE}"),
    ]
    for when, message in cases:
        with pytest.raises(UserFacingError) as refused:
            await setup.matches.reschedule(GUILD, info.id, when, actor=BY_BOSS)
        assert refused.value.message == message
    with pytest.raises(NotFoundError):
        await setup.matches.reschedule(OTHER_GUILD, info.id, LATER + timedelta(1),
                                       actor=BY_BOSS_THERE)
    await setup.matches.cancel(GUILD, info.id, "Bob is ill", actor=BY_BOSS)
    with pytest.raises(UserFacingError) as refused:
        await setup.matches.reschedule(GUILD, info.id, LATER + timedelta(1),
                                       actor=BY_BOSS)
    assert refused.value.message == (
        f"Match #{info.id} is cancelled, so it cannot be rescheduled. Schedule a new one with "
        "`/match schedule`."
    )
    assert [type(e) for e in setup.events] == [MatchScheduledEvent, MatchCancelledEvent]


@pytest.mark.parametrize(
    ("state", "slug", "shown"),
    [(ClaimState.OPENING, None, "opening"),
     (ClaimState.OPENED, "brave-link-1234", "open (https://racetime.example/alttpr/brave-link-1234)")],
)
async def test_no_reschedule_once_the_room_is_claimed(
    setup: Setup, state: ClaimState, slug: str | None, shown: str
) -> None:
    info = await setup.schedule()
    async with setup.sessionmaker.begin() as session:
        session.add(MatchRoomClaim(match_id=info.id, state=state.value, category="alttpr",
                                   slug=slug, info="Winter Cup - Semi-final", reason="manual"))
    with pytest.raises(UserFacingError) as refused:
        await setup.matches.reschedule(GUILD, info.id, LATER + timedelta(hours=1),
                                       actor=BY_BOSS)
    assert refused.value.message == (
        f"Match #{info.id}'s room is already {shown}, so its time can no longer change. "
        "Cancel the match with `/match cancel` and schedule a new one if it must move."
    )
    assert len(setup.events) == 1


async def test_a_reschedule_forgets_a_failed_opening_so_the_room_is_tried_again(
    setup: Setup,
) -> None:
    info = await setup.schedule()
    async with setup.sessionmaker.begin() as session:
        session.add(MatchRoomClaim(match_id=info.id, state=ClaimState.FAILED.value,
                                   category="alttpr", info="Winter Cup - Semi-final",
                                   reason="scheduled", last_error="racetime.gg answered 503"))
        match = await session.get(Match, info.id)
        assert match is not None
        match.room_error = "The room could not be opened: racetime.gg answered 503."

    moved, _ = await setup.matches.reschedule(GUILD, info.id, LATER + timedelta(hours=1),
                                              actor=BY_BOSS)

    assert moved.room_error is None and moved.room.status is RoomStatus.NONE
    assert await setup.count(MatchRoomClaim) == 0


async def test_cancel_emits_once_and_refuses_twice(setup: Setup) -> None:
    info = await setup.schedule()
    cancelled = await setup.matches.cancel(GUILD, info.id, " Bob is ill ", actor=BY_BOSS)
    assert cancelled.status is RaceStatus.CANCELLED
    assert cancelled.room.status is RoomStatus.CANCELLED
    event = setup.events[-1]
    assert isinstance(event, MatchCancelledEvent)
    assert (event.match_id, event.reason) == (info.id, "Bob is ill")
    with pytest.raises(UserFacingError) as refused:
        await setup.matches.cancel(GUILD, info.id, "again", actor=BY_BOSS)
    assert refused.value.message == f"Match #{info.id} is already cancelled."
    with pytest.raises(UserFacingError, match="Give a reason"):
        await setup.matches.cancel(GUILD, info.id, "  ", actor=BY_BOSS)
    assert len(setup.events) == 2
    assert [e.details for e in await setup.audit.entries("match.cancel")] == [
        {"match_id": info.id, "reason": "Bob is ill"},
    ]


async def test_a_finished_match_cannot_be_cancelled_or_moved(setup: Setup) -> None:
    info = await setup.schedule()
    async with setup.sessionmaker.begin() as session:
        match = await session.get(Match, info.id)
        assert match is not None
        match.status = RaceStatus.FINISHED.value
    with pytest.raises(UserFacingError, match="finished and keeps its results"):
        await setup.matches.cancel(GUILD, info.id, "late", actor=BY_BOSS)
    with pytest.raises(UserFacingError, match="is finished, so it cannot be rescheduled"):
        await setup.matches.reschedule(GUILD, info.id, LATER + timedelta(1),
                                       actor=BY_BOSS)


# -- reading -----------------------------------------------------------------------------------


async def test_info_says_why_there_is_no_room(setup: Setup) -> None:
    info = await setup.schedule()
    opens_at = LATER - timedelta(minutes=90)
    shown = await setup.matches.info(GUILD, info.id)
    assert shown.room_reason == f"The room opens at {show_time(opens_at)}."
    await setup.clock.advance((opens_at - NOW).total_seconds() + 60)
    shown = await setup.matches.info(GUILD, info.id)
    assert shown.room_reason == (
        f"The room was due to open at {show_time(opens_at)} and has not opened yet."
    )
    off = await setup.schedule(auto_create=False, title="Final")
    assert (await setup.matches.info(GUILD, off.id)).room_reason == (
        "Auto-create is off for this match: a moderator opens the room with `/open-room`."
    )
    async with setup.sessionmaker.begin() as session:
        match = await session.get(Match, info.id)
        assert match is not None
        match.room_error = (
            "The race room alttpr/odd-link-0001 was cancelled on racetime.gg. "
            "A moderator can open a new one with `/open-room`."
        )
    assert (await setup.matches.info(GUILD, info.id)).room_reason == (
        "The race room alttpr/odd-link-0001 was cancelled on racetime.gg. A moderator can "
        "open a new one with `/open-room`."
    ), "said once, as it happened: the room did not fail to open"
    async with setup.sessionmaker.begin() as session:
        match = await session.get(Match, info.id)
        assert match is not None
        match.room_error = opening_failed("racetime answered 500")
    assert (await setup.matches.info(GUILD, info.id)).room_reason == (
        "Opening the room failed: racetime answered 500. A moderator can try again with "
        "`/open-room`."
    )
    await setup.tournaments.update_settings(
        GUILD, "Winter Cup", actor=BY_BOSS, auto_create_rooms=False
    )
    assert (await setup.matches.info(GUILD, off.id)).room_reason == (
        "Auto-create is off for Winter Cup: a moderator opens the room with `/open-room` "
        "(organizers can turn it on with `/tournament settings`)."
    )


async def test_a_room_readiness_answers_instead(setup: Setup) -> None:
    asked: list[tuple[int, datetime]] = []

    class Readiness:
        async def why_no_room(self, match: MatchInfo, now: datetime) -> str | None:
            asked.append((match.id, now))
            return "The alttpr bot is not connected."

    info = await setup.schedule()
    setup.matches.use_readiness(Readiness())
    assert (await setup.matches.info(GUILD, info.id)).room_reason == (
        "The alttpr bot is not connected."
    )
    assert asked == [(info.id, NOW)]


async def test_info_shows_the_room_and_results(setup: Setup) -> None:
    info = await setup.schedule()
    async with setup.sessionmaker.begin() as session:
        session.add(RaceRoom(category="alttpr", slug="odd-ganon-0042", match_id=info.id,
                             last_status="finished"))
        match = await session.get(Match, info.id)
        assert match is not None
        match.status = RaceStatus.FINISHED.value
        players = (await session.execute(
            select(MatchPlayer).where(MatchPlayer.match_id == info.id).order_by(MatchPlayer.id)
        )).scalars().all()
        players[0].place, players[0].finish_time, players[0].status = 1, timedelta(hours=1), "done"
        players[1].status = "dnf"
    shown = await setup.matches.info(GUILD, info.id)
    assert shown.room.status is RoomStatus.FINISHED
    assert shown.room.url == "https://racetime.example/alttpr/odd-ganon-0042"
    assert shown.room_reason is None
    assert [(p.place, p.finish_time, p.status) for p in shown.players] == [
        (1, timedelta(hours=1), "done"), (None, None, "dnf"),
    ]
    with pytest.raises(NotFoundError) as missing:
        await setup.matches.info(OTHER_GUILD, info.id)
    assert missing.value.message == (
        f"There is no match #{info.id} in this server. `/match list` shows the upcoming ones."
    )


async def test_list_upcoming_is_soonest_first_without_closed_matches(setup: Setup) -> None:
    late = await setup.schedule(title="Final", when=LATER + timedelta(days=1))
    soon = await setup.schedule(title="Semi-final")
    gone = await setup.schedule(title="Quarter-final", when=LATER - timedelta(days=1))
    await setup.matches.cancel(GUILD, gone.id, "bye", actor=BY_BOSS)
    listed = await setup.matches.list_upcoming(GUILD)
    assert [m.id for m in listed] == [soon.id, late.id]
    assert [m.id for m in await setup.matches.list_upcoming(GUILD, "winter cup")] == [
        soon.id, late.id,
    ]
    assert await setup.matches.list_upcoming(OTHER_GUILD) == []
    with pytest.raises(NotFoundError):
        await setup.matches.list_upcoming(GUILD, "Autumn Cup")


async def test_suggestions_are_labelled_and_searchable(setup: Setup) -> None:
    final = await setup.schedule(title="Final")
    semi = await setup.schedule(title="Semi-final", when=LATER - timedelta(hours=5))
    await setup.matches.cancel(GUILD, final.id, "bye", actor=BY_BOSS)
    when = LATER - timedelta(hours=5)
    assert await setup.matches.suggest(GUILD, "") == [
        (semi.id, f"#{semi.id} · Winter Cup · Semi-final · {when:%Y-%m-%d %H:%M} UTC"),
        (final.id, f"#{final.id} · Winter Cup · Final · {LATER:%Y-%m-%d %H:%M} UTC (cancelled)"),
    ]
    assert [i for i, _ in await setup.matches.suggest(GUILD, "", open_only=True)] == [semi.id]
    assert [i for i, _ in await setup.matches.suggest(GUILD, "SEMI")] == [semi.id]
    assert [i for i, _ in await setup.matches.suggest(GUILD, f"#{final.id}")] == [final.id]
    assert await setup.matches.suggest(OTHER_GUILD, "") == []


@pytest.mark.parametrize(
    ("typed", "expected"), [("12", 12), ("#12", 12), (" # 7 ", 7), ("#12 · Winter Cup · x", 12)]
)
def test_match_ids_are_read_from_what_is_typed(typed: str, expected: int) -> None:
    assert match_id_from(typed) == expected


def test_a_match_that_is_no_id_is_refused() -> None:
    with pytest.raises(UserFacingError) as refused:
        match_id_from("Final")
    assert refused.value.message == (
        "`Final` is not a match. Pick one from the suggestions, or give its number "
        "(`/match list` shows them)."
    )


async def test_a_list_shows_each_match_its_own_room_seed_breaks_and_calls(setup: Setup) -> None:
    # The list reads every match's details at once: each must still get only its own.
    first = await setup.schedule(title="Semi-final")
    second = await setup.schedule(title="Final", when=LATER + timedelta(hours=1))
    bare = await setup.schedule(title="Bronze", when=LATER + timedelta(hours=2))
    async with setup.sessionmaker.begin() as session:
        session.add(RaceRoom(category="alttpr", slug="odd-ganon-0001", match_id=first.id))
        session.add(RaceRoom(category="alttpr", slug="odd-ganon-0002", match_id=second.id))
        session.add_all([
            # A room opened before (a seed of its own), then the match's current one.
            RoomSeed(category="alttpr", slug="odd-ganon-0000", match_id=first.id,
                     preset="open", text="old seed", rolls=1),
            RoomSeed(category="alttpr", slug="odd-ganon-0001", match_id=first.id,
                     preset="open", text="new seed", rolls=2),
            RoomSeed(category="alttpr", slug="odd-ganon-0002", match_id=second.id,
                     preset="open", text="never rolled", rolls=0),
            RoomBreaks(category="alttpr", slug="odd-ganon-0002", duration_seconds=300,
                       every_seconds=5400),
            FpaCall(request_id="alttpr/odd-ganon-0002:chat:1", category="alttpr",
                    slug="odd-ganon-0002", match_id=second.id, racetime_user_id="a" * 16,
                    racetime_user_name="Ada", reason="crash", called_at=LATER),
        ])
    listed = await setup.matches.list_upcoming(GUILD)
    assert [m.id for m in listed] == [first.id, second.id, bare.id]
    singly = [await setup.matches.info(GUILD, m.id) for m in listed]
    assert listed == [replace(info, room_reason=None) for info in singly]
    shown = {m.id: m for m in listed}
    assert shown[first.id].seed == "new seed" and shown[second.id].seed is None
    assert shown[first.id].breaks is None and shown[second.id].breaks is not None
    assert (len(shown[first.id].fpa), len(shown[second.id].fpa)) == (0, 1)
    assert shown[first.id].room.url == "https://racetime.example/alttpr/odd-ganon-0001"
    assert shown[bare.id].room.status is RoomStatus.NONE and shown[bare.id].players
