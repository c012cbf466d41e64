"""The engine across restarts and faults: baselines, reversals while down, stale frames,
reconnect backoff, attachments, and shutdown that never raises."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from sqlmodel import select

from core.events import (
    RacetimeBotCreatedRaceEvent,
    RacetimeBotJoinedRaceEvent,
    RacetimeEntrantJoinedEvent,
    RoomForMatchEvent,
    room_partition,
)
from db.models import EventLogEntry, Match, RaceRoom, Tournament
from racetime.backoff import Backoff
from racetime.client import RaceSettings
from racetime.ports import BotHealth
from tests.plugins.faults import DatabaseFaults
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import (
    CATEGORY,
    add_alttpr_bot,
    race_finished,
    race_under_way,
    started,
    summary,
    watched_race,
)


async def test_the_baseline_is_committed_with_the_join(engine_env: EngineEnv) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    manager = await started(env)
    room = await manager.create_room(CATEGORY, RaceSettings(goal="Beat the game"))
    await asyncio.wait_for(room.wait_connected(), 5)
    await env.event_log.flush()
    async with env.sessionmaker() as session:
        row = (
            await session.execute(select(RaceRoom).where(RaceRoom.slug == room.record.slug))
        ).scalar_one()
        logged = list(
            (
                await session.execute(
                    select(EventLogEntry.kind).where(
                        EventLogEntry.partition_key == room_partition(CATEGORY, row.slug)
                    )
                )
            ).scalars()
        )
    assert row.last_race_data is not None and row.last_version == room.last_race.version
    assert logged == ["RacetimeBotCreatedRaceEvent", "RacetimeBotJoinedRaceEvent"]


async def test_a_room_recorded_but_never_joined_gets_its_join_after_a_restart(
    engine_env: EngineEnv,
) -> None:
    """Opened by us, then the process stopped before the first snapshot: no baseline yet."""
    env, fake = engine_env, engine_env.fake
    await add_alttpr_bot(env)
    race = fake.open_race(CATEGORY)
    await env.store.record_room(CATEGORY, race.slug, opened_by_us=True)
    manager = await started(env)
    await eventually(lambda: race.slug in manager.bot(CATEGORY).rooms)
    await asyncio.wait_for(manager.bot(CATEGORY).rooms[race.slug].wait_connected(), 5)
    await env.dispatcher.drain()
    assert summary(env, race.slug) == [
        ("RacetimeBotCreatedRaceEvent",),
        ("RacetimeBotJoinedRaceEvent",),
    ]
    assert env.of(RacetimeBotCreatedRaceEvent)[0].goal == "Beat the game"


async def test_a_finish_undone_while_down_is_reported_after_the_restart(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    manager, race, _room = await watched_race(env, streaming_required=False)
    await race_finished(env, race.slug, one, two)
    await manager.stop()

    await fake.racer(race.slug, two).undone()  # inside racetime's 10-minute window
    await eventually(lambda: fake.race(race.slug).status == "in_progress")
    env.events.clear()
    await started(env)
    await eventually(lambda: ("race", "finished", "in_progress") in summary(env, race.slug))
    await env.dispatcher.drain()
    assert summary(env, race.slug) == [
        ("race", "finished", "in_progress"),
        ("entrant", "RacerTwo", "done", "in_progress"),
    ]


async def test_results_reached_while_down_are_delivered_after_the_restart(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    manager, race, _room = await watched_race(env, streaming_required=False)
    await race_under_way(env, race.slug, one, two)
    await eventually(lambda: ("race", "pending", "in_progress") in summary(env, race.slug))
    await manager.stop()

    await fake.racer(race.slug, one).done()
    await fake.racer(race.slug, two).forfeit()
    await eventually(lambda: fake.race(race.slug).status == "finished")
    env.events.clear()
    await started(env)
    await eventually(lambda: ("race", "in_progress", "finished") in summary(env, race.slug))
    await env.dispatcher.drain()
    assert summary(env, race.slug) == [
        ("race", "in_progress", "finished"),
        ("entrant", "RacerOne", "in_progress", "done"),
        ("entrant", "RacerTwo", "in_progress", "dnf"),
    ]


async def test_an_old_snapshot_never_takes_the_room_back(engine_env: EngineEnv) -> None:
    """The stale-version guard: a repeated or older ``race.data`` changes nothing."""
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env, streaming_required=False)
    await fake.racer(race.slug, one).join()
    old = fake.race_data(race.slug)
    await fake.racer(race.slug, one).ready()
    await eventually(
        lambda: ("entrant", "RacerOne", "not_ready", "ready") in summary(env, race.slug)
    )
    newest = room.last_race
    assert newest is not None

    await fake.inject_frame(
        race.slug,
        {"type": "race.data", "date": "2026-11-24T00:00:00+00:00", "race": old,
         "version": old["version"]},
    )
    await fake.racer(race.slug, two).join()
    await eventually(lambda: ("joined", "RacerTwo", "not_ready") in summary(env, race.slug))
    await env.dispatcher.drain()
    assert summary(env, race.slug) == [
        ("RacetimeBotJoinedRaceEvent",),
        ("joined", "RacerOne", "not_ready"),
        ("entrant", "RacerOne", "not_ready", "ready"),
        ("joined", "RacerTwo", "not_ready"),
    ]
    await env.event_log.flush()
    async with env.sessionmaker() as session:
        row = (
            await session.execute(select(RaceRoom).where(RaceRoom.slug == race.slug))
        ).scalar_one()
    assert row.last_version == fake.race(race.slug).version > old["version"]


class RecordingBackoff(Backoff):
    """The real backoff, remembering which failure count each delay was asked for."""

    def __init__(self) -> None:
        super().__init__(base=0.01, cap=0.05)
        object.__setattr__(self, "asked", [])

    def delay(self, failures: int) -> float:
        self.asked.append(failures)  # type: ignore[attr-defined]
        return super().delay(failures)


async def test_the_reconnect_backoff_starts_over_after_a_successful_connection(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    backoff = RecordingBackoff()
    env.timings = replace(env.timings, connection=replace(env.timings.connection, backoff=backoff))
    _manager, race, room = await watched_race(env)

    fake.fail_next(2, status=503, path_prefix=f"/ws/o/bot/{race.slug}")
    await fake.drop_sockets(race.slug)
    await eventually(lambda: room.connect_count == 2 and room.is_connected)
    await fake.drop_sockets(race.slug)
    await eventually(lambda: room.connect_count == 3 and room.is_connected)
    assert backoff.asked == [0, 1, 2, 0]  # type: ignore[attr-defined]


async def test_a_room_attached_to_a_match_later_carries_it_in_its_events(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one = fake.seed.users["RacerOne"]
    manager, race, room = await watched_race(env)
    async with env.sessionmaker.begin() as session:
        tournament = Tournament(guild_id=1, name="Cup", racetime_category=CATEGORY)
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        match = Match(tournament_id=tournament.id, title="Final")
        session.add(match)
        await session.flush()
        match_id, tournament_id = match.id, tournament.id

    assert await manager.attach(race.name, match_id=match_id) is room
    await fake.racer(race.slug, one).join()
    await eventually(lambda: env.of(RacetimeEntrantJoinedEvent))
    joined = env.of(RacetimeEntrantJoinedEvent)[0]
    assert (joined.match_id, joined.tournament_id) == (match_id, tournament_id)
    assert env.of(RacetimeBotJoinedRaceEvent)[0].match_id is None, "joined before the attach"


def test_room_for_match_events_are_ordered_with_their_room() -> None:
    event = RoomForMatchEvent(
        match_id=7, tournament_id=1, category=CATEGORY, room_slug="odd-kirby-0001",
        room_url="https://racetime.gg/alttpr/odd-kirby-0001",
    )
    assert event.partition_key == room_partition(CATEGORY, "odd-kirby-0001")


class StuckLinks:
    """The real store, whose linked-user lookup never answers (a hung database)."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.asked = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def linked_user_ids(self, racetime_ids: object) -> dict[str, int]:
        self.asked.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_stopping_cancels_every_task_of_a_room_and_never_raises(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    stuck = StuckLinks(env.store)
    env.store = stuck  # type: ignore[assignment]
    await add_alttpr_bot(env)
    manager = await started(env)
    race = fake.open_race(CATEGORY, streaming_required=False)
    await fake.racer(race.slug, fake.seed.users["RacerOne"]).join()
    room = await manager.room(race.name)  # the baseline has an entrant: look its link up ahead
    await asyncio.wait_for(stuck.asked.wait(), 5)
    lookups = [t for t in asyncio.all_tasks() if t.get_name().startswith("racetime-links:")]
    assert lookups
    await asyncio.wait_for(manager.stop(), 5)
    assert room.finished and all(t.done() for t in lookups)
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("racetime-")]


async def test_a_database_error_during_discovery_leaves_the_bot_running_and_honest(
    engine_env: EngineEnv, db_faults: DatabaseFaults
) -> None:
    env, fake = engine_env, engine_env.fake
    row = await add_alttpr_bot(env)
    assert row.id is not None
    manager = await started(env)
    bot = manager.bot(CATEGORY)

    fault = db_faults.fail(r"FROM race_rooms", times=1)  # the scan's lookup of a new room
    race = fake.open_race(CATEGORY)
    await eventually(lambda: race.slug in bot.rooms)
    assert fault.raised == 1
    await eventually(lambda: bot.status == BotHealth.CONNECTED)
    changes = [(h.new_status, h.status_message) for h in await env.bot_status.history(row.id)]
    assert changes == [
        (BotHealth.CONNECTED, "Connected"),
        (BotHealth.CONNECTION_ERROR, "Internal error (OperationalError); retrying"),
        (BotHealth.CONNECTED, "Connected"),
    ]
