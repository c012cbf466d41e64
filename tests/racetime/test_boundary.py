"""Hostile and odd frames over the real websocket: they never corrupt a room, and the room
goes on reporting real changes afterwards."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from core.events import RacetimeEntrantJoinedEvent, RacetimeEntrantLeftEvent, RacetimeRoomEvent
from db.models import RaceRoom
from racetime.connection import MAX_FRAME_BYTES
from tests.plugins.faults import DatabaseFaults, parameters_mention
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import add_alttpr_bot, started, summary, watched_race
from tests.racetime.test_engine_recovery import RecordingBackoff


def race_frame(data: dict[str, Any], **race: Any) -> dict[str, Any]:
    """A ``race.data`` frame of ``data`` with some keys changed."""
    body = {**data, **race}
    return {"type": "race.data", "date": "2026-11-26T00:00:00+00:00", "race": body,
            "version": body["version"]}


def entrant(data: dict[str, Any], user: dict[str, Any] | None, status: str) -> dict[str, Any]:
    template = data["entrants"][0]
    return {**template, "user": user, "status": {**template["status"], "value": status}}


async def stored_room(env: EngineEnv, slug: str) -> RaceRoom:
    await env.event_log.flush()
    async with env.sessionmaker() as session:
        return (await session.execute(select(RaceRoom).where(RaceRoom.slug == slug))).scalar_one()


async def real_change_is_reported(env: EngineEnv, slug: str, user: str, name: str) -> None:
    """A racer joins for real: the room still reports it."""
    await env.fake.racer(slug, user).join()
    await eventually(lambda: ("joined", name, "not_ready") in summary(env, slug))


def entrant_events(env: EngineEnv, slug: str) -> list[RacetimeRoomEvent]:
    return [e for e in env.events if isinstance(e, RacetimeRoomEvent) and e.room_slug == slug
            and hasattr(e, "racetime_user_id")]


async def test_a_frame_about_another_room_is_ignored_and_logged_once(
    engine_env: EngineEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env, fake = engine_env, engine_env.fake
    _manager, race, _room = await watched_race(env, streaming_required=False)
    other = fake.open_race("alttpr", streaming_required=False)
    await fake.racer(other.slug, fake.seed.users["RacerThree"]).join()
    stranger = fake.race_data(other.slug)
    with caplog.at_level(logging.WARNING, logger="racetime.connection"):
        for _ in range(3):
            frame = race_frame(stranger, version=stranger["version"] + 50)
            await fake.inject_frame(race.slug, frame)
        await real_change_is_reported(env, race.slug, fake.seed.users["RacerOne"], "RacerOne")
    assert [e for e in entrant_events(env, race.slug) if "RacerThree" in str(e)] == []
    notes = [r for r in caplog.records if "another room" in r.getMessage()]
    assert len(notes) == 1


async def test_unknown_statuses_never_become_events(
    engine_env: EngineEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env, streaming_required=False)
    await real_change_is_reported(env, race.slug, one, "RacerOne")
    data = fake.race_data(race.slug)
    weird = race_frame(
        data,
        version=data["version"] + 1,
        status={**data["status"], "value": "exploded"},
        entrants=[entrant(data, data["entrants"][0]["user"], "levitating")],
    )
    with caplog.at_level(logging.WARNING, logger="racetime.connection"):
        await fake.inject_frame(race.slug, weird)
        again = race_frame(weird["race"], version=data["version"] + 2)
        await fake.inject_frame(race.slug, again)
        await fake.racer(race.slug, one).ready()
        await real_change_is_reported(env, race.slug, two, "RacerTwo")
    rows = summary(env, race.slug)
    assert not [row for row in rows if "exploded" in row or "levitating" in row]
    assert ("entrant", "RacerOne", "not_ready", "ready") in rows
    messages = [r.getMessage() for r in caplog.records]
    assert sum("'exploded'" in m for m in messages) == 1
    assert sum("'levitating'" in m for m in messages) == 1
    assert room.last_race is not None and room.last_race.status.value == "open"


async def test_thousands_of_invented_entrants_invent_no_joins_or_leaves(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    _manager, race, _room = await watched_race(env, streaming_required=False)
    data = fake.race_data(race.slug)
    template = {"id": "", "full_name": "", "name": "Ghost", "discriminator": "0000"}
    crowd = [
        entrant(data | {"entrants": [{"user": None, "status": {"value": "not_ready"}}]},
                {**template, "id": f"ghost{n:011d}", "full_name": f"Ghost{n}#0000"},
                "not_ready")
        for n in range(10_000)
    ]
    await fake.inject_frame(race.slug, race_frame(data, version=data["version"] + 1,
                                                  entrants=crowd))
    await real_change_is_reported(env, race.slug, fake.seed.users["RacerOne"], "RacerOne")
    await env.dispatcher.drain()
    assert [type(e).__name__ for e in entrant_events(env, race.slug)] == [
        "RacetimeEntrantJoinedEvent"
    ]


async def test_null_users_and_duplicate_ids_do_not_stop_later_changes(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, _room = await watched_race(env, streaming_required=False)
    await real_change_is_reported(env, race.slug, one, "RacerOne")
    data = fake.race_data(race.slug)
    first = data["entrants"][0]
    # The real server's next change will carry this same version: it is news all the same.
    odd = race_frame(data, version=data["version"] + 1,
                     entrants=[first, first, entrant(data, None, "ready")])
    await fake.inject_frame(race.slug, odd)
    await fake.racer(race.slug, one).ready()
    await real_change_is_reported(env, race.slug, two, "RacerTwo")
    rows = summary(env, race.slug)
    assert ("entrant", "RacerOne", "not_ready", "ready") in rows
    assert rows.count(("joined", "RacerOne", "not_ready")) == 1
    assert not env.of(RacetimeEntrantLeftEvent)


async def test_a_deleted_account_is_not_a_leave(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, _room = await watched_race(env, streaming_required=False)
    await real_change_is_reported(env, race.slug, one, "RacerOne")
    await real_change_is_reported(env, race.slug, two, "RacerTwo")
    await fake.delete_user(two)
    await fake.racer(race.slug, one).ready()
    ready = ("entrant", "RacerOne", "not_ready", "ready")
    await eventually(lambda: ready in summary(env, race.slug))
    await env.dispatcher.drain()
    assert not env.of(RacetimeEntrantLeftEvent)


@pytest.mark.parametrize("version", [2**62, -1, 10**30])
async def test_an_absurd_version_never_freezes_the_room(
    engine_env: EngineEnv, version: int
) -> None:
    env, fake = engine_env, engine_env.fake
    _manager, race, room = await watched_race(env, streaming_required=False)
    data = fake.race_data(race.slug)
    await fake.inject_frame(race.slug, race_frame(data, version=version,
                                                  status={**data["status"], "value": "pending"}))
    await real_change_is_reported(env, race.slug, fake.seed.users["RacerOne"], "RacerOne")
    assert not [row for row in summary(env, race.slug) if row[0] == "race"]
    row = await stored_room(env, race.slug)
    assert row.last_version == fake.race(race.slug).version
    assert room.last_race is not None and room.last_race.version == row.last_version


async def test_a_room_whose_snapshot_cannot_be_stored_is_set_aside_and_the_others_go_on(
    engine_env: EngineEnv, db_faults: DatabaseFaults, caplog: pytest.LogCaptureFixture
) -> None:
    env, fake = engine_env, engine_env.fake
    manager, race, _room = await watched_race(env, streaming_required=False)
    other = fake.open_race("alttpr", streaming_required=False)
    other_room = await manager.room(other.name)
    await asyncio.wait_for(other_room.wait_connected(), 5)

    def poison() -> Exception:
        return IntegrityError("(injected)", None, ValueError("a value no column takes"))

    db_faults.fail(r"INSERT INTO race_rooms", times=None, error=poison,
                   when=parameters_mention(race.slug))
    with caplog.at_level(logging.ERROR):
        for name in ("RacerOne", "RacerTwo"):  # a racer can be in one running race only
            await fake.racer(race.slug, fake.seed.users[name]).join()
        await real_change_is_reported(env, other.slug, fake.seed.users["RacerThree"], "RacerThree")
        await fake.racer(other.slug, fake.seed.users["RacerThree"]).ready()
        ready = ("entrant", "RacerThree", "not_ready", "ready")
        await eventually(lambda: ready in summary(env, other.slug))
        await env.event_log.flush()
    assert (await stored_room(env, other.slug)).last_version == fake.race(other.slug).version
    set_aside = [r for r in caplog.records if "set aside" in r.getMessage()]
    assert len(set_aside) == 1 and race.slug in set_aside[0].getMessage()


async def test_a_room_too_big_for_a_frame_backs_off_more_and_more(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    backoff = RecordingBackoff()
    env.timings = replace(env.timings, connection=replace(env.timings.connection, backoff=backoff))
    _manager, race, _room = await watched_race(env, streaming_required=False)
    # Every frame of the room, the one sent on connect included, is now over the limit.
    await fake.inject_race_keys(race.slug, {"padding": "x" * (MAX_FRAME_BYTES + 10)})
    await eventually(lambda: len(backoff.asked) >= 4)  # type: ignore[attr-defined]
    assert backoff.asked[:4] == [0, 1, 2, 3], "a rejected frame never starts the backoff over"  # type: ignore[attr-defined]

    fake.race(race.slug).extra_keys.clear()  # the room fits in a frame again
    await real_change_is_reported(env, race.slug, fake.seed.users["RacerOne"], "RacerOne")
    joined = env.of(RacetimeEntrantJoinedEvent)
    assert [e.racetime_user_id for e in joined] == [fake.seed.users["RacerOne"]]


async def test_every_stored_value_fits_its_column(engine_env: EngineEnv) -> None:
    """A 64-bit version is stored as is, on SQLite and PostgreSQL alike."""
    env, fake = engine_env, engine_env.fake
    await add_alttpr_bot(env)
    manager = await started(env)
    race = fake.open_race("alttpr", streaming_required=False)
    fake.race(race.slug).version = 2**62  # a long-lived room, say
    room = await manager.room(race.name)
    await asyncio.wait_for(room.wait_connected(), 5)
    await real_change_is_reported(env, race.slug, fake.seed.users["RacerOne"], "RacerOne")
    row = await stored_room(env, race.slug)
    assert row.last_version == 2**62 + 1 and row.last_status == "open"
