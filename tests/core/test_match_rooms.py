"""Opening match rooms: against the fake racetime server over real sockets, the real engine
and the real database (SQLite, or PostgreSQL with RACEDESK_TEST_DB=postgres)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlmodel import select

from core.clock import ManualClock
from core.errors import NotFoundError, UserFacingError
from core.events import (
    Event,
    MatchRoomProblemEvent,
    RacetimeEntrantInvitedEvent,
    RacetimeRoomCreatedEvent,
    RacetimeRoomOpenedEvent,
    decode_event,
)
from core.identity import SYSTEM_USER_ID
from core.rooms.match_rooms import CLAIM_LEASE, OpeningStatus
from core.rooms.rules import Refusal, opening_failed
from db.models import (
    BotStatus,
    ClaimState,
    EventLogEntry,
    Match,
    MatchRoomClaim,
    RaceRoom,
    RacetimeBot,
    Tournament,
)
from db.secrets import SecretBox
from tests.core.match_room_helpers import add_match, assign_bot, room_service, second_process
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import CATEGORY, add_alttpr_bot, started

E = TypeVar("E", bound=Event)

STARTRACE = "/o/alttpr/startrace"
WHEN = datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
INFO = "Spring Cup - RacerOne vs RacerTwo - Scheduled: 2026-11-26 18:30 UTC"


def rooms_on_fake(env: EngineEnv) -> list[str]:
    return [r.slug for r in env.fake.races.values() if r.category.slug == CATEGORY]


def entrants(env: EngineEnv, slug: str) -> dict[str, str]:
    """racetime id -> status, as racetime's race data shows the room."""
    return {
        e["user"]["id"]: e["status"]["value"] for e in env.fake.race_data(slug)["entrants"]
    }


def invited(env: EngineEnv, slug: str) -> list[str]:
    return sorted(rid for rid, status in entrants(env, slug).items() if status == "invited")


async def claim_of(env: EngineEnv, match_id: int) -> MatchRoomClaim:
    async with env.sessionmaker() as session:
        result = await session.execute(
            select(MatchRoomClaim).where(MatchRoomClaim.match_id == match_id)
        )
        return result.scalar_one()


async def logged(env: EngineEnv, kind: type[E]) -> list[E]:
    """Events of ``kind`` in the event log: what the service committed with its rows."""
    async with env.sessionmaker() as session:
        rows = await session.execute(
            select(EventLogEntry).where(EventLogEntry.kind == kind.__name__)
        )
        events = [decode_event(row.kind, row.payload) for row in rows.scalars()]
    return [e for e in events if isinstance(e, kind)]


async def match_row(env: EngineEnv, match_id: int) -> Match:
    async with env.sessionmaker() as session:
        match = await session.get(Match, match_id)
        assert match is not None
        return match


async def test_opening_creates_one_room_with_the_exact_settings_and_brings_the_players_in(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=WHEN)

    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=42, reason="manual"
    )

    assert opening.status == OpeningStatus.OPENED, opening
    assert rooms_on_fake(env) == [opening.slug]
    assert opening.url == f"{env.fake.base_url}/alttpr/{opening.slug}"
    data = await env.client.get_race_data(CATEGORY, opening.slug)
    assert data["goal"] == {"name": "Any% NMG", "custom": False}  # the tournament's goal
    assert data["status"]["value"] == "invitational"
    assert data["info_user"] == INFO
    assert data["info_bot"] == f"RaceDesk match #{setup.match_id}"
    assert data["start_delay"] == "P0DT00H00M15S"
    assert data["time_limit"] == "P1DT00H00M00S"
    expected = {
        "unlisted": False, "streaming_required": True, "auto_start": True,
        "allow_comments": True, "hide_comments": True, "allow_prerace_chat": True,
        "allow_midrace_chat": True, "allow_non_entrant_chat": False,
        "chat_message_delay": "P0DT00H00M00S", "team_race": False,
        "require_even_teams": False,
    }  # fmt: skip
    assert {key: data[key] for key in expected} == expected

    assert invited(env, opening.slug) == sorted(setup.linked)
    assert sorted(opening.invited) == sorted(setup.linked)
    race = env.fake.race(opening.slug)
    assert list(opening.unlinked_user_ids) == setup.unlinked_user_ids
    assert len(opening.unlinked_discord_ids) == 1
    chat = [m.message for m in race.messages if m.bot]
    assert chat[0].startswith("Spring Cup - RacerOne vs RacerTwo. Scheduled: 2026-11-26 18:30")
    assert "Goal: Any% NMG" in chat[0] and "1 player(s) not linked yet" in chat[0]
    assert chat[1].startswith("Warning: 1 player(s) of this match have not linked")
    assert opening.problems == ()

    claim = await claim_of(env, setup.match_id)
    assert (claim.state, claim.slug, claim.info) == (ClaimState.OPENED, opening.slug, INFO)
    assert claim.details_posted_at is not None
    assert (await match_row(env, setup.match_id)).status == "room_open"
    async with env.sessionmaker() as session:
        room = (await session.execute(select(RaceRoom))).scalar_one()
    assert (room.slug, room.match_id, room.opened_by_us) == (opening.slug, setup.match_id, True)
    (opened,) = await logged(env, RacetimeRoomOpenedEvent)
    assert (opened.user_id, opened.match_id, opened.room_slug) == (42, setup.match_id, claim.slug)
    assert (opened.invited_count, opened.player_count) == (2, 3)
    assert await logged(env, RacetimeRoomCreatedEvent) == []
    await env.dispatcher.drain()
    # Delivered at once: the engine's own events about the room are logged after it.
    assert [e.event_id for e in env.of(RacetimeRoomOpenedEvent)] == [opened.event_id]
    assert len(env.of(RacetimeEntrantInvitedEvent)) == 2


async def test_the_scheduler_opens_as_the_system_with_a_custom_goal_and_an_open_room(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(
        env, scheduled_at=WHEN, goal="All dungeons, no glitches", invitational=False, unlinked=0
    )

    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=None, reason="scheduled"
    )

    assert opening.status == OpeningStatus.OPENED
    data = await env.client.get_race_data(CATEGORY, opening.slug)
    assert data["goal"] == {"name": "All dungeons, no glitches", "custom": True}
    assert data["status"]["value"] == "open"
    assert [m.message for m in env.fake.race(opening.slug).messages if m.bot][1:] == []
    (created,) = await logged(env, RacetimeRoomCreatedEvent)
    assert created.user_id == SYSTEM_USER_ID
    assert await logged(env, RacetimeRoomOpenedEvent) == []


async def test_two_concurrent_calls_open_one_room(engine_env: EngineEnv) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=WHEN)

    first, second = await asyncio.gather(
        service.create_race_room_for_match(setup.match_id, actor_user_id=None, reason="scheduled"),
        service.create_race_room_for_match(setup.match_id, actor_user_id=7, reason="manual"),
    )

    statuses = sorted([first.status, second.status])
    assert OpeningStatus.OPENED in statuses
    assert statuses.count(OpeningStatus.OPENED) == 1
    assert env.fake.request_count(STARTRACE) == 1
    assert len(rooms_on_fake(env)) == 1
    again = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=7, reason="manual"
    )
    assert again.status == OpeningStatus.ALREADY_OPEN
    assert again.slug == rooms_on_fake(env)[0]
    created = await logged(env, RacetimeRoomCreatedEvent)
    assert len(created + await logged(env, RacetimeRoomOpenedEvent)) == 1


async def test_a_lost_startrace_answer_is_adopted_not_duplicated(engine_env: EngineEnv) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=WHEN)
    env.fake.lose_next_response(path_prefix=STARTRACE)

    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=None, reason="scheduled"
    )

    assert opening.status == OpeningStatus.ADOPTED, opening
    assert env.fake.request_count(STARTRACE) == 1
    assert rooms_on_fake(env) == [opening.slug]
    claim = await claim_of(env, setup.match_id)
    assert (claim.state, claim.slug, claim.attempts) == (ClaimState.OPENED, opening.slug, 1)
    assert invited(env, opening.slug) == sorted(setup.linked)


async def test_a_gateway_error_after_the_room_was_made_is_adopted_too(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=WHEN)
    env.fake.lose_next_response(path_prefix=STARTRACE, status=504)

    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=None, reason="scheduled"
    )

    assert opening.status == OpeningStatus.ADOPTED
    assert len(rooms_on_fake(env)) == 1


async def test_failures_are_retried_a_bounded_number_of_times_then_recorded(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=WHEN)
    env.fake.fail_next(10, status=503, path_prefix=STARTRACE)

    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=None, reason="scheduled"
    )

    assert opening.status == OpeningStatus.FAILED
    assert opening.error is not None and "server error" in opening.error
    assert env.fake.request_count(STARTRACE) == 3  # NO_WAIT allows three attempts
    assert rooms_on_fake(env) == []
    claim = await claim_of(env, setup.match_id)
    assert (claim.state, claim.attempts) == (ClaimState.FAILED, 3)
    assert (await match_row(env, setup.match_id)).room_error == opening_failed(opening.error or "")
    # Announced once, as an event (the announcements post it for the organizers).
    [problem] = await logged(env, MatchRoomProblemEvent)
    assert problem.match_id == setup.match_id and opening.error in problem.problem
    assert "/open-room" in problem.problem
    # The scheduler leaves it alone now; a moderator may try again.
    again = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=None, reason="scheduled"
    )
    assert again.status == OpeningStatus.FAILED and env.fake.request_count(STARTRACE) == 3
    env.fake.clear_faults()
    by_hand = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=5, reason="manual"
    )
    assert by_hand.status == OpeningStatus.OPENED
    assert rooms_on_fake(env) == [by_hand.slug]
    assert (await match_row(env, setup.match_id)).room_error is None


async def test_a_crash_between_claim_and_startrace_is_finished_at_start_up(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=WHEN)
    other = await add_match(env, scheduled_at=WHEN, title="Three vs Four",
                            tournament_name="Autumn Cup", linked=("RacerThree",), unlinked=0)
    async with env.sessionmaker.begin() as session:
        # What a process that stopped right after committing its claims left behind: one
        # before startrace, one after racetime opened the room (the answer never recorded).
        stopped = datetime.now(UTC) - CLAIM_LEASE - timedelta(seconds=1)
        session.add(MatchRoomClaim(match_id=setup.match_id, category=CATEGORY, info=INFO,
                                   reason="scheduled", updated_at=stopped))
        other_info = "Autumn Cup - Three vs Four - Scheduled: 2026-11-26 18:30 UTC"
        session.add(MatchRoomClaim(match_id=other.match_id, category=CATEGORY,
                                   info=other_info, reason="scheduled", updated_at=stopped))
    # Same info text, another match's marker (matches may share a title and a time): not it.
    env.fake.open_race(CATEGORY, goal="Any% NMG", info_user=other_info,
                       info_bot=f"RaceDesk match #{setup.match_id}")
    left_behind = env.fake.open_race(CATEGORY, goal="Any% NMG", invitational=True,
                                     info_user=other_info,
                                     info_bot=f"RaceDesk match #{other.match_id}")

    outcomes = await service.reconcile_unfinished()

    by_match = {o.match_id: o for o in outcomes}
    assert by_match[setup.match_id].status == OpeningStatus.OPENED
    assert by_match[other.match_id].status == OpeningStatus.ADOPTED
    assert by_match[other.match_id].slug == left_behind.slug
    assert env.fake.request_count(STARTRACE) == 1
    assert len(rooms_on_fake(env)) == 3
    assert invited(env, left_behind.slug) == other.linked
    for match_id in (setup.match_id, other.match_id):
        assert (await claim_of(env, match_id)).state == ClaimState.OPENED
    # Nothing is left to reconcile, and a second pass opens nothing.
    assert await service.reconcile_unfinished() == []
    assert env.fake.request_count(STARTRACE) == 1


async def test_an_opening_under_way_elsewhere_is_left_alone_until_its_lease_runs_out(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    clock = ManualClock(datetime.now(UTC))
    service = room_service(env, await started(env), clock)
    setup = await add_match(env, scheduled_at=WHEN)
    async with env.sessionmaker.begin() as session:
        session.add(MatchRoomClaim(match_id=setup.match_id, category=CATEGORY, info=INFO,
                                   reason="scheduled"))

    assert await service.reconcile_unfinished() == []
    assert env.fake.request_count(STARTRACE) == 0
    await clock.advance(CLAIM_LEASE.total_seconds() + 1)
    (outcome,) = await service.reconcile_unfinished()
    assert outcome.status == OpeningStatus.OPENED
    assert env.fake.request_count(STARTRACE) == 1


async def test_rejoining_a_room_invites_only_who_is_missing_and_accepts_requests(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    manager = await started(env)
    service = room_service(env, manager)
    setup = await add_match(
        env, scheduled_at=WHEN, linked=("RacerOne", "RacerTwo", "RacerThree"), unlinked=0
    )
    one, two, three = setup.linked
    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=None, reason="scheduled"
    )
    slug = opening.slug
    assert slug is not None
    await env.fake.racer(slug, one).accept_invite()
    # racetime forgets a declined invite altogether (the entrant is deleted).
    await env.fake.racer(slug, three).decline_invite()
    await env.dispatcher.drain()
    invites_before = len(env.of(RacetimeEntrantInvitedEvent))
    assert invites_before == 3
    # RaceDesk restarts: a new engine and service join the room again.
    await manager.stop()
    restarted = room_service(env, await started(env))

    assert await restarted.reconcile_room(setup.match_id) == []
    await env.dispatcher.drain()
    # Only the player racetime shows no entry for is invited again.
    assert [e.racetime_user_id for e in env.of(RacetimeEntrantInvitedEvent)][
        invites_before:
    ] == [three]
    assert entrants(env, slug) == {one: "not_ready", two: "invited", three: "invited"}


async def test_join_requests_from_the_match_players_are_accepted(engine_env: EngineEnv) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=WHEN, linked=("RacerOne",), unlinked=0)
    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=None, reason="scheduled"
    )
    slug = opening.slug
    assert slug is not None
    stranger = env.fake.seed.users["RacerThree"]
    await env.fake.racer(slug, stranger).request_invite()
    # RacerOne turns the invite down, then asks to join after all.
    await env.fake.racer(slug, setup.linked[0]).decline_invite()
    await env.fake.racer(slug, setup.linked[0]).request_invite()

    await eventually(lambda: entrants(env, slug).get(setup.linked[0]) == "not_ready")
    await env.dispatcher.drain()
    assert entrants(env, slug)[stranger] == "requested"  # not a player of the match


async def test_send_room_message(engine_env: EngineEnv) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=WHEN)
    with pytest.raises(Exception, match="no open racetime room"):
        await service.send_room_message(setup.match_id, "Good luck!")
    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=None, reason="scheduled"
    )
    await service.send_room_message(setup.match_id, "Good luck, have fun!")
    assert env.fake.race(opening.slug).messages[-1].message == "Good luck, have fun!"


async def test_two_processes_on_one_database_open_one_room(
    engine_env: EngineEnv, db_url: str, secret_box: SecretBox
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    here = room_service(env, await started(env))
    there = await second_process(env, db_url, secret_box)
    try:
        await asyncio.wait_for(there.manager.bot(CATEGORY).wait_healthy(), 5)
        setup = await add_match(env, scheduled_at=WHEN)

        outcomes = await asyncio.gather(
            here.create_race_room_for_match(setup.match_id, actor_user_id=None,
                                            reason="scheduled"),
            there.service.create_race_room_for_match(setup.match_id, actor_user_id=3,
                                                     reason="manual"),
        )

        assert [o.status for o in outcomes].count(OpeningStatus.OPENED) == 1, outcomes
        assert {o.status for o in outcomes} <= {
            OpeningStatus.OPENED, OpeningStatus.ALREADY_OPENING, OpeningStatus.ALREADY_OPEN
        }
        assert env.fake.request_count(STARTRACE) == 1
        (slug,) = rooms_on_fake(env)
        assert (await claim_of(env, setup.match_id)).slug == slug
    finally:
        await there.close()


async def test_should_create_room_for_match_gives_each_refusal(engine_env: EngineEnv) -> None:
    env = engine_env
    bot = await add_alttpr_bot(env)
    clock = ManualClock(WHEN - timedelta(minutes=90))
    service = room_service(env, await started(env), clock)

    async def code(match_id: int) -> Refusal | None:
        decision = await service.should_create_room_for_match(match_id)
        assert bool(decision) == (decision.code is None) and decision.reason
        return decision.code

    async def change(model: type, row_id: int | None, **fields: object) -> None:
        async with env.sessionmaker.begin() as session:
            row = await session.get(model, row_id)
            for name, value in fields.items():
                setattr(row, name, value)

    assert await code(999) == Refusal.MATCH_NOT_FOUND
    setup = await add_match(env, scheduled_at=WHEN)
    match_id = setup.match_id
    # 90 minutes ahead, the room opens 60 minutes before: too early, then due.
    decision = await service.should_create_room_for_match(match_id)
    assert decision.code == Refusal.TOO_EARLY
    assert decision.reason == f"The room opens at <t:{int(WHEN.timestamp()) - 3600}:F>."
    await clock.advance(30 * 60)
    assert await code(match_id) is None
    due = WHEN - timedelta(minutes=60)
    assert await service.should_create_room_for_match(match_id, due)
    assert not await service.should_create_room_for_match(match_id, due - timedelta(seconds=1))
    await change(Tournament, setup.tournament_id,
                 settings={"auto_create_rooms": True, "room_open_minutes_before": 30})
    assert await code(match_id) == Refusal.TOO_EARLY
    await change(Tournament, setup.tournament_id,
                 settings={"auto_create_rooms": True, "require_racetime_link": True})
    assert await code(match_id) == Refusal.UNLINKED_PLAYERS
    await change(Tournament, setup.tournament_id, settings={})
    assert await code(match_id) == Refusal.TOURNAMENT_AUTO_OFF
    await change(Tournament, setup.tournament_id, settings={"auto_create_rooms": True})
    await change(Match, match_id, auto_create_room=False)
    assert await code(match_id) == Refusal.MATCH_AUTO_OFF
    await change(Match, match_id, auto_create_room=None, scheduled_at=None)
    assert await code(match_id) == Refusal.NO_TIME
    await change(Match, match_id, scheduled_at=WHEN)

    await change(RacetimeBot, bot.id, status=int(BotStatus.CONNECTION_ERROR))
    decision = await service.should_create_room_for_match(match_id)
    assert decision.code == Refusal.BOT_UNHEALTHY and "CONNECTION_ERROR" in decision.reason
    await change(RacetimeBot, bot.id, is_active=False)
    assert await code(match_id) == Refusal.BOT_INACTIVE
    await change(Tournament, setup.tournament_id, racetime_category="smz3")
    assert await code(match_id) == Refusal.NO_BOT
    async with env.sessionmaker.begin() as session:
        await env.bots.add_bot(session, category="smz3", client_id="x", client_secret="y",
                               display_name="SMZ3")
        smz3 = (await session.execute(select(RacetimeBot).where(
            RacetimeBot.category == "smz3"))).scalar_one()
        smz3.status = int(BotStatus.CONNECTED)
    assert await code(match_id) == Refusal.BOT_NOT_ASSIGNED  # not this server's bot (yet)
    async with env.sessionmaker.begin() as session:
        await assign_bot(session, "smz3", 111111111111111111)
    assert await code(match_id) == Refusal.BOT_NOT_RUNNING
    await change(Tournament, setup.tournament_id, racetime_category=CATEGORY)
    await change(RacetimeBot, bot.id, is_active=True, status=int(BotStatus.CONNECTED))
    assert await code(match_id) is None

    async with env.sessionmaker.begin() as session:
        session.add(MatchRoomClaim(match_id=match_id, category=CATEGORY, info=INFO,
                                   reason="scheduled"))
    assert await code(match_id) == Refusal.OPENING
    async with env.sessionmaker.begin() as session:
        claim = (await session.execute(select(MatchRoomClaim))).scalar_one()
        claim.state, claim.last_error = ClaimState.FAILED.value, "racetime.gg is down"
    decision = await service.should_create_room_for_match(match_id)
    assert decision.code == Refusal.FAILED and "racetime.gg is down" in decision.reason
    opening = await service.create_race_room_for_match(match_id, actor_user_id=9,
                                                       reason="manual")
    assert opening.status == OpeningStatus.OPENED
    assert await code(match_id) == Refusal.NOT_SCHEDULED  # the match's room is open
    await change(Match, match_id, status="scheduled")
    assert await code(match_id) == Refusal.ROOM_EXISTS
    await change(Match, match_id, status="cancelled")
    assert await code(match_id) == Refusal.NOT_SCHEDULED


async def test_a_cancelled_match_or_a_category_without_a_bot_gets_no_claim(
    engine_env: EngineEnv,
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    cancelled = await add_match(env, scheduled_at=WHEN, status="cancelled", linked=())
    with pytest.raises(UserFacingError, match="The match is cancelled"):
        await service.create_race_room_for_match(
            cancelled.match_id, actor_user_id=1, reason="manual"
        )
    elsewhere = await add_match(env, scheduled_at=WHEN, tournament_name="SMZ3 Cup", linked=())
    async with env.sessionmaker.begin() as session:
        tournament = await session.get(Tournament, elsewhere.tournament_id)
        assert tournament is not None
        tournament.racetime_category = "smz3"
    with pytest.raises(UserFacingError, match="No racetime bot is running for category 'smz3'"):
        await service.create_race_room_for_match(
            elsewhere.match_id, actor_user_id=1, reason="manual"
        )
    with pytest.raises(NotFoundError):
        await service.create_race_room_for_match(12345, actor_user_id=1, reason="manual")
    async with env.sessionmaker() as session:
        assert (await session.execute(select(MatchRoomClaim))).first() is None
    assert env.fake.request_count(STARTRACE) == 0


async def test_the_preview_shows_the_room_without_opening_it(engine_env: EngineEnv) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=WHEN, invitational=False)

    preview = await service.preview_room(setup.match_id)

    assert (preview.tournament, preview.title, preview.goal) == (
        "Spring Cup", "RacerOne vs RacerTwo", "Any% NMG"
    )
    assert preview.settings.info_user == INFO and preview.settings.invitational is False
    assert preview.invite == ("RacerOne#1234", "RacerTwo#1234")
    assert len(preview.unlinked_discord_ids) == 1 and preview.existing is None
    assert env.fake.request_count(STARTRACE) == 0
    opening = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=1, reason="manual"
    )
    existing = (await service.preview_room(setup.match_id)).existing
    assert existing is not None and existing.status == OpeningStatus.ALREADY_OPEN
    assert existing.url == opening.url
