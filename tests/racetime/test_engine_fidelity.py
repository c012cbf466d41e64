"""The engine against the real server's behaviours (racetime-protocol.md §6), which the fake
server now reproduces: pong before the broadcast, two-step un-finish, equal versions with
different payloads, race.split frames, and the race runner's adoption delay."""

from __future__ import annotations

import asyncio

from core.events import (
    RacetimeEntrantInvitedEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantStatusChangedEvent,
)
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import race_finished, reported, summary, watched_race


async def test_an_invitation_is_not_read_from_the_snapshot_after_the_action(
    engine_env: EngineEnv,
) -> None:
    """racetime answers the ping before it broadcasts the change: right after ``invite`` the
    snapshot is the pre-invite state, so the invited event claims no version of it."""
    env, fake = engine_env, engine_env.fake
    manager, race, _room = await watched_race(env, invitational=True, streaming_required=False)
    user = fake.seed.users["RacerThree"]
    await manager.invite(race.name, user, "RacerThree")
    await eventually(lambda: ("joined", "RacerThree", "invited") in summary(env, race.slug))
    await env.dispatcher.drain()
    (invited,) = env.of(RacetimeEntrantInvitedEvent)
    (joined,) = env.of(RacetimeEntrantJoinedEvent)
    assert invited.racetime_version is None
    assert joined.racetime_version == fake.race(race.slug).version


async def test_an_undone_finish_comes_as_two_broadcasts_and_both_are_reported(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env, streaming_required=False)
    await race_finished(env, race.slug, one, two)
    env.events.clear()

    await fake.racer(race.slug, two).undone()  # also sends a race.split frame first
    await eventually(lambda: ("race", "finished", "in_progress") in summary(env, race.slug))
    await env.dispatcher.drain()
    assert summary(env, race.slug) == [
        ("entrant", "RacerTwo", "done", "ready"),
        ("race", "finished", "in_progress"),
        ("entrant", "RacerTwo", "ready", "in_progress"),
    ]
    first = env.of(RacetimeEntrantStatusChangedEvent)[0]
    assert first.race_status == "finished", "the un-finish starts while the race is finished"
    assert room.is_connected and room.connect_count == 1


async def test_a_stale_copy_under_the_same_version_is_news_and_so_is_the_next_change(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, _room = await watched_race(env, streaming_required=False)
    await fake.racer(race.slug, one).join()
    await fake.racer(race.slug, one).ready()
    await reported(env, race.slug, ("entrant", "RacerOne", "not_ready", "ready"))

    version = await fake.save_stale_copy(race.slug)  # RacerOne not ready again, same version
    await reported(env, race.slug, ("entrant", "RacerOne", "ready", "not_ready"))
    await fake.racer(race.slug, two).join()  # the next change reuses version + 1
    await eventually(lambda: ("joined", "RacerTwo", "not_ready") in summary(env, race.slug))
    await env.dispatcher.drain()
    back = next(
        e for e in env.of(RacetimeEntrantStatusChangedEvent) if e.new_status == "not_ready"
    )
    assert back.racetime_version == version
    assert len({e.event_id for e in env.events}) == len(env.events)


async def test_a_slow_race_runner_is_waited_for(engine_env: EngineEnv) -> None:
    """The real racebot takes seconds to start and finish a race; nothing times out on it."""
    env, fake = engine_env, engine_env.fake
    fake.set_adoption_delay(1.5)
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, _room = await watched_race(env, streaming_required=False)
    for user in (one, two):
        await fake.racer(race.slug, user).join()
        await fake.racer(race.slug, user).ready()
    await asyncio.sleep(0.5)
    assert fake.race(race.slug).status == "open", "the runner has not noticed yet"
    await eventually(lambda: ("race", "open", "pending") in summary(env, race.slug))
