"""Results land on the match from the room's events: places, times and forfeits, exactly once;
an un-finish undoes them until the race finishes again. The fake racetime server and the
engine over real sockets, on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from core.events import (
    LoggedEvent,
    MatchResultEvent,
    MatchRoomProblemEvent,
    RacetimeRaceStatusChangedEvent,
)
from core.identity import SYSTEM_USER_ID
from core.rooms.match_rooms import OpeningStatus
from core.tournaments.match_results import (
    MatchResults,
    PlayerResult,
    format_race_time,
    summary_of,
)
from db.models import EventLogEntry, Match, MatchPlayer, Tournament, User
from db.queries.rooms import get_room
from tests.core.match_room_helpers import add_match, room_service
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import (
    CATEGORY,
    add_alttpr_bot,
    race_finished,
    reported,
    started,
    watched_race,
)

GUILD = 900_000_000_000_000_001


@pytest.fixture
def env_with_results(engine_env: EngineEnv) -> EngineEnv:
    """The engine environment with the results listener subscribed, as ``bot.py`` does."""
    MatchResults(engine_env.event_log, racetime_url=engine_env.fake.base_url).subscribe(
        engine_env.dispatcher
    )
    return engine_env


async def a_match(env: EngineEnv, racers: dict[str, str]) -> int:
    """A match whose players are linked to the racetime users ``racers`` (name -> id)."""
    async with env.sessionmaker.begin() as session:
        tournament = Tournament(guild_id=GUILD, name="Spring Cup", racetime_category=CATEGORY)
        session.add(tournament)
        await session.flush()
        match = Match(tournament_id=tournament.id, title="Semi-final")
        session.add(match)
        await session.flush()
        for number, (name, racetime_id) in enumerate(racers.items()):
            user = User(discord_id=GUILD + 10 + number, racetime_id=racetime_id,
                        racetime_name=name)
            session.add(user)
            await session.flush()
            session.add(MatchPlayer(match_id=match.id, user_id=user.id))
        assert match.id is not None
        return match.id


async def players(env: EngineEnv, match_id: int) -> dict[str, tuple[str, int | None, bool]]:
    """Each player's (status, place, has a time), by racetime name."""
    async with env.sessionmaker() as session:
        rows = await session.execute(
            select(User.racetime_name, MatchPlayer)
            .join(User, col(User.id) == col(MatchPlayer.user_id))
            .where(MatchPlayer.match_id == match_id)
        )
        return {
            str(name): (player.status, player.place, player.finish_time is not None)
            for name, player in rows.all()
        }


async def match_row(env: EngineEnv, match_id: int) -> Match:
    async with env.sessionmaker() as session:
        match = await session.get(Match, match_id)
        assert match is not None
        return match


async def match_status(env: EngineEnv, match_id: int) -> str:
    return (await match_row(env, match_id)).status


def results_of(env: EngineEnv, match_id: int) -> list[MatchResultEvent]:
    return [e for e in env.events if isinstance(e, MatchResultEvent) and e.match_id == match_id]


async def test_a_finished_race_records_places_times_and_forfeits_once(
    env_with_results: EngineEnv,
) -> None:
    env = env_with_results
    one, two = env.fake.seed.users["RacerOne"], env.fake.seed.users["RacerTwo"]
    manager, race, _ = await watched_race(env)
    match_id = await a_match(env, {"RacerOne": one, "RacerTwo": two})
    await manager.attach(race.name, match_id=match_id)

    await race_finished(env, race.slug, one, two, second_forfeits=True)
    await eventually(lambda: len(results_of(env, match_id)) == 1)
    await env.dispatcher.drain()

    assert await players(env, match_id) == {
        "RacerOne": ("done", 1, True),
        "RacerTwo": ("dnf", None, False),
    }
    assert await match_status(env, match_id) == "finished"
    [result] = results_of(env, match_id)
    assert result.summary.startswith("1. RacerOne 0:00:")
    assert result.summary.endswith(" · RacerTwo: forfeit")
    assert result.room_url == f"{env.fake.base_url}/{CATEGORY}/{race.slug}"
    assert result.user_id == SYSTEM_USER_ID, "recorded by automation, not by someone unknown"

    # The same status event delivered again (after a crash: same seq, same event_id) changes
    # nothing and emits nothing. Delivered, not emitted: the log ignores an id it holds.
    [finished] = [
        e for e in env.events
        if isinstance(e, RacetimeRaceStatusChangedEvent) and e.new_status == "finished"
    ]
    async with env.sessionmaker() as session:
        seq = (await session.execute(
            select(EventLogEntry.seq).where(col(EventLogEntry.event_id) == finished.event_id)
        )).scalar_one()
    env.dispatcher.publish([LoggedEvent(seq, finished)])
    await env.dispatcher.drain()
    assert len(results_of(env, match_id)) == 1
    assert await players(env, match_id) == {
        "RacerOne": ("done", 1, True),
        "RacerTwo": ("dnf", None, False),
    }


async def test_an_unfinish_undoes_the_results_until_the_race_finishes_again(
    env_with_results: EngineEnv,
) -> None:
    env = env_with_results
    one, two = env.fake.seed.users["RacerOne"], env.fake.seed.users["RacerTwo"]
    manager, race, _ = await watched_race(env)
    match_id = await a_match(env, {"RacerOne": one, "RacerTwo": two})
    await manager.attach(race.name, match_id=match_id)
    await race_finished(env, race.slug, one, two)
    await eventually(lambda: len(results_of(env, match_id)) == 1)

    await env.fake.racer(race.slug, two).undone()
    await reported(env, race.slug, ("race", "finished", "in_progress"))
    await env.dispatcher.drain()
    assert await match_status(env, match_id) == "in_progress"
    assert await players(env, match_id) == {
        "RacerOne": ("done", None, False),
        "RacerTwo": ("in_progress", None, False),
    }

    await env.fake.racer(race.slug, two).done()
    await eventually(lambda: len(results_of(env, match_id)) == 2)
    await env.dispatcher.drain()
    assert await match_status(env, match_id) == "finished"
    assert await players(env, match_id) == {
        "RacerOne": ("done", 1, True),
        "RacerTwo": ("done", 2, True),
    }


async def test_a_room_without_a_match_records_nothing(env_with_results: EngineEnv) -> None:
    env = env_with_results
    one, two = env.fake.seed.users["RacerOne"], env.fake.seed.users["RacerTwo"]
    _, race, _ = await watched_race(env)
    match_id = await a_match(env, {"RacerOne": one, "RacerTwo": two})

    await race_finished(env, race.slug, one, two)
    await env.dispatcher.drain()

    assert results_of(env, match_id) == []
    assert await match_status(env, match_id) == "scheduled"
    assert await players(env, match_id) == {
        "RacerOne": ("registered", None, False),
        "RacerTwo": ("registered", None, False),
    }


def test_the_summary_lists_places_first_then_forfeits() -> None:
    results = [
        PlayerResult(2, "Bo", "dq", None, None),
        PlayerResult(1, "Al", "done", 2, timedelta(hours=1, minutes=2, seconds=3.45)),
        PlayerResult(3, "Cy", "done", 1, timedelta(minutes=59, seconds=59.99)),
        PlayerResult(4, "Di", "dnf", None, None),
    ]
    assert summary_of(results) == (
        "1. Cy 0:59:59.9 · 2. Al 1:02:03.4 · Bo: disqualified · Di: forfeit"
    )
    assert summary_of([]) == "No results"
    assert format_race_time(timedelta(hours=10, seconds=0.05)) == "10:00:00.0"


async def test_a_room_cancelled_on_racetime_lets_the_match_get_a_new_room(
    env_with_results: EngineEnv,
) -> None:
    env = env_with_results
    await add_alttpr_bot(env)
    service = room_service(env, await started(env))
    setup = await add_match(env, scheduled_at=datetime.now(UTC) + timedelta(minutes=30))
    first = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=None, reason="scheduled"
    )
    assert first.ok and first.slug is not None
    race = env.fake.race(first.slug)

    await env.fake.apply(race, lambda now: race.cancel(now))
    await reported(env, first.slug, ("race", "invitational", "cancelled"))
    await env.dispatcher.drain()

    match = await match_row(env, setup.match_id)
    assert match.status == "scheduled"
    assert match.room_error is not None and "was cancelled on racetime.gg" in match.room_error
    [problem] = env.of(MatchRoomProblemEvent)
    assert problem.problem == match.room_error
    async with env.sessionmaker() as session:
        room = await get_room(session, CATEGORY, first.slug)
    assert room is not None and room.match_id is None

    again = await service.create_race_room_for_match(
        setup.match_id, actor_user_id=7, reason="manual"
    )
    assert again.status == OpeningStatus.OPENED and again.slug != first.slug
    assert (await match_row(env, setup.match_id)).room_error is None


async def test_a_match_cancelled_while_its_room_is_open_gets_no_results(
    env_with_results: EngineEnv,
) -> None:
    """The room rightly stays open, and the race may still start and finish in it; the
    cancelled match stays cancelled: no places, no MatchResultEvent (so no DMs and no #results
    post)."""
    env = env_with_results
    one, two = env.fake.seed.users["RacerOne"], env.fake.seed.users["RacerTwo"]
    manager, race, _ = await watched_race(env)
    match_id = await a_match(env, {"RacerOne": one, "RacerTwo": two})
    await manager.attach(race.name, match_id=match_id)
    async with env.sessionmaker.begin() as session:
        match = await session.get(Match, match_id)
        assert match is not None
        match.status = "cancelled"

    await race_finished(env, race.slug, one, two)
    await reported(env, race.slug, ("race", "in_progress", "finished"))
    await env.dispatcher.drain()

    assert await match_status(env, match_id) == "cancelled"
    assert results_of(env, match_id) == []
    assert {place for _, place, _ in (await players(env, match_id)).values()} == {None}
