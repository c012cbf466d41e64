"""End to end: the racetime engine against the fake server over real sockets, the real
racetime-bot library underneath, and a real database."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace

import pytest
from sqlmodel import select

from core.clock import ManualClock
from core.events import (
    RacetimeBotCreatedRaceEvent,
    RacetimeBotJoinedRaceEvent,
    RacetimeBotStatusChangedEvent,
    RacetimeEntrantInvitedEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
)
from core.identity import SYSTEM_USER_ID
from core.race_time import shown_race_time
from db.models import BotStatus, RaceRoom
from racetime.client import RaceSettings
from racetime.errors import RacetimeActionError
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import (
    CATEGORY,
    add_alttpr_bot,
    bot_row,
    production_timings,
    race_finished,
    room_events,
    started,
    summary,
    watched_race,
)


async def test_a_full_race_produces_exactly_the_expected_events(
    engine_env: EngineEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core.events.dispatcher")
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    linked_id = await env.link(one, discord_id=1234567890123456789)
    await add_alttpr_bot(env)
    manager = await started(env)

    room = await manager.create_room(
        CATEGORY, RaceSettings(goal="Beat the game", invitational=False, start_delay=10)
    )
    slug = room.record.slug
    await asyncio.wait_for(room.wait_connected(), 5)
    await fake.racer(slug, one).join()
    await fake.racer(slug, two).join()
    await fake.racer(slug, one).ready()
    await fake.racer(slug, two).ready()
    await eventually(lambda: fake.race(slug).status == "pending")
    await fake.advance_to_start(slug)
    await fake.advance(6)
    await fake.racer(slug, one).done()
    await fake.racer(slug, two).forfeit()
    await eventually(lambda: room.last_race and room.last_race.status.value == "finished")
    await env.dispatcher.drain()

    assert summary(env, slug) == [
        ("RacetimeBotCreatedRaceEvent",),
        ("RacetimeBotJoinedRaceEvent",),
        ("joined", "RacerOne", "not_ready"),
        ("joined", "RacerTwo", "not_ready"),
        ("entrant", "RacerOne", "not_ready", "ready"),
        ("entrant", "RacerTwo", "not_ready", "ready"),
        ("race", "open", "pending"),
        ("race", "pending", "in_progress"),
        ("entrant", "RacerOne", "ready", "in_progress"),
        ("entrant", "RacerTwo", "ready", "in_progress"),
        ("entrant", "RacerOne", "in_progress", "done"),
        ("entrant", "RacerTwo", "in_progress", "dnf"),
        ("race", "in_progress", "finished"),
    ]
    events = room_events(env, slug)
    created = env.of(RacetimeBotCreatedRaceEvent)[0]
    assert created.goal == "Beat the game" and created.invitational is False
    assert created.user_id == SYSTEM_USER_ID
    done = next(
        e
        for e in events
        if isinstance(e, RacetimeEntrantStatusChangedEvent) and e.new_status == "done"
    )
    assert done.place == 1 and re.fullmatch(r"PT6\.\d+S", done.finish_time or "")
    assert done.user_id == linked_id and done.racetime_user_id == one
    dnf = events[-2]
    assert isinstance(dnf, RacetimeEntrantStatusChangedEvent) and dnf.user_id is None
    assert dnf.new_status == "dnf" and dnf.race_status == "in_progress"
    assert all(e.user_id == SYSTEM_USER_ID for e in env.of(RacetimeRaceStatusChangedEvent))
    assert len({e.event_id for e in events}) == len(events)

    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines.count(f"Race alttpr/{slug} status changed: pending -> in_progress") == 1
    assert any(
        line.startswith(f"Race alttpr/{slug} entrant RacerOne#")
        and line.endswith(
            "status changed: in_progress -> done (place 1, time "
            + shown_race_time(done.finish_time) + ")"
        )
        for line in lines
    )

    await env.event_log.flush()
    async with env.sessionmaker() as session:
        row = (await session.execute(select(RaceRoom).where(RaceRoom.slug == slug))).scalar_one()
    assert row.opened_by_us and row.last_status == "finished"
    assert row.is_active, "a finished room stays active through the un-finish window"
    assert row.last_version == fake.race(slug).version


async def test_a_dropped_socket_reconnects_and_reports_what_happened_meanwhile_once(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env, streaming_required=False)
    await fake.racer(race.slug, one).join()
    await fake.racer(race.slug, two).join()
    await eventually(lambda: len(env.of(RacetimeEntrantJoinedEvent)) == 2)

    await fake.drop_sockets(race.slug)
    await fake.racer(race.slug, one).ready()
    await fake.racer(race.slug, two).leave()
    await eventually(lambda: room.connect_count >= 2 and room.is_connected)
    await eventually(lambda: any(e[0] == "entrant" for e in summary(env, race.slug)))
    await env.dispatcher.drain()

    rows = summary(env, race.slug)
    assert rows.count(("entrant", "RacerOne", "not_ready", "ready")) == 1
    left = [
        e for e in room_events(env, race.slug) if type(e).__name__ == "RacetimeEntrantLeftEvent"
    ]
    assert len(left) == 1 and left[0].racetime_user_id == two
    assert len(env.of(RacetimeBotJoinedRaceEvent)) == 1
    assert fake.socket_count(race.slug) == 1


async def test_an_error_frame_is_surfaced_and_leaves_the_room_alive(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    manager, race, room = await watched_race(env, invitational=True)

    with pytest.raises(RacetimeActionError) as caught:
        await manager.invite(race.name, "NoSuchUser000000")
    assert caught.value.errors == ["No user found matching the given ID."]
    assert not env.of(RacetimeEntrantInvitedEvent)

    await room.send_message("still here")
    assert any(m.message == "still here" for m in fake.race(race.slug).messages)
    user = fake.seed.users["RacerThree"]
    await manager.invite(race.name, user, "RacerThree")
    await env.dispatcher.drain()
    invited = env.of(RacetimeEntrantInvitedEvent)
    assert [(e.racetime_user_id, e.user_id) for e in invited] == [(user, None)]
    assert room.connect_count == 1


async def test_token_expiry_on_open_sockets_is_survived_with_one_new_token(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    manager, race, room = await watched_race(env)
    other = await manager.room(fake.open_race(CATEGORY).name)
    await asyncio.wait_for(other.wait_connected(), 5)
    tokens_before = fake.request_count("/o/token")

    assert fake.expire_tokens(ALTTPR_CLIENT_ID) >= 1
    await asyncio.gather(room.set_bot_info("Seed: ABCD"), other.send_message("hello"))
    assert fake.race(race.slug).info_bot == "Seed: ABCD"
    assert fake.request_count("/o/token") == tokens_before + 1, "one refresh for all rooms"
    assert room.connect_count == 2 and other.connect_count == 2


async def test_rooms_are_resumed_and_unlisted_rooms_rediscovered_after_a_restart(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    await add_alttpr_bot(env)
    first = await started(env)
    ours = await first.create_room(CATEGORY, RaceSettings(goal="Beat the game", unlisted=True))
    await asyncio.wait_for(ours.wait_connected(), 5)
    await first.stop()
    await env.event_log.flush()
    unlisted = fake.open_race(CATEGORY, unlisted=True, bot="SomeoneElse")
    public = await env.client.get_public_category_data(CATEGORY)
    assert not public["current_races"], "the public listing must not show unlisted rooms"

    env.events.clear()
    clock = ManualClock()
    second = await started(env, clock)
    bot = second.bot(CATEGORY)
    await eventually(lambda: {ours.record.slug, unlisted.slug} <= set(bot.rooms))
    for slug in (ours.record.slug, unlisted.slug):
        await asyncio.wait_for(bot.rooms[slug].wait_connected(), 5)
    await env.dispatcher.drain()
    joined = {e.room_slug for e in env.of(RacetimeBotJoinedRaceEvent)}
    assert joined == {unlisted.slug}, "a room with a stored baseline is resumed, not re-joined"
    assert fake.socket_count(ours.record.slug) == 1 and fake.socket_count(unlisted.slug) == 1
    scans = fake.request_count(f"/o/{CATEGORY}/data")
    for done in range(1, 4):
        await clock.advance(env.timings.scan_interval)
        await eventually(lambda n=done: fake.request_count(f"/o/{CATEGORY}/data") == scans + n)
    assert fake.socket_count(unlisted.slug) == 1, "a scan must not open a second connection"
    assert fake.socket_count(ours.record.slug) == 1


async def test_bad_credentials_give_auth_failed_without_a_retry_storm(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    bot = await add_alttpr_bot(env, secret="wrong-secret")
    clock = ManualClock()
    manager = env.new_manager(clock)
    await manager.start()
    assert bot.id is not None
    await eventually(lambda: manager.bot(CATEGORY).status is not None and clock.sleepers == 1)
    await clock.advance(env.timings.auth_retry_seconds - 1)
    assert fake.request_count("/o/token") == 1, "no retry before the auth retry interval"
    await clock.advance(1)
    await eventually(lambda: fake.request_count("/o/token") == 2 and clock.sleepers == 1)
    row = await bot_row(env, bot.id)
    assert row.status == BotStatus.AUTH_FAILED
    assert row.status_message and "wrong-secret" not in row.status_message
    unhealthy = await env.bot_status.get_unhealthy_bots()
    assert [b.category for b in unhealthy] == [CATEGORY]


async def test_a_server_outage_gives_connection_error_then_connected(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    bot = await add_alttpr_bot(env)
    assert bot.id is not None
    fake.fail_next(3, status=503, path_prefix="/o/")
    manager = env.new_manager()
    await manager.start()
    await asyncio.wait_for(manager.bot(CATEGORY).wait_healthy(), 5)
    await env.dispatcher.drain()

    row = await bot_row(env, bot.id)
    assert row.status == BotStatus.CONNECTED and row.last_connected_at is not None
    changes = [(e.old_status, e.new_status) for e in env.of(RacetimeBotStatusChangedEvent)]
    assert changes == [
        (BotStatus.UNKNOWN, BotStatus.CONNECTION_ERROR),
        (BotStatus.CONNECTION_ERROR, BotStatus.CONNECTED),
    ]
    history = await env.bot_status.history(bot.id)
    assert [(h.old_status, h.new_status) for h in history] == changes
    assert await env.bot_status.get_unhealthy_bots() == []

    await manager.stop_bot(CATEGORY)
    row = await bot_row(env, bot.id)
    assert row.status == BotStatus.DISCONNECTED
    assert row.status_message == "Bot stopped manually"


async def test_a_deleted_account_and_unknown_keys_do_not_crash_the_room(
    engine_env: EngineEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env, streaming_required=False)
    await fake.racer(race.slug, one).join()
    await fake.racer(race.slug, two).join()
    with caplog.at_level(logging.WARNING):
        await fake.delete_user(two)
        await fake.inject_race_keys(race.slug, {"brand_new_key": {"nested": [1, 2]}})
        await fake.inject_frame(race.slug, {"type": "race.mystery", "date": "x"})
        await fake.inject_frame(race.slug, "this is not json")
        await fake.racer(race.slug, one).ready()
        await eventually(
            lambda: ("entrant", "RacerOne", "not_ready", "ready") in summary(env, race.slug)
        )
    assert room.is_connected and room.connect_count == 1
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


async def test_a_race_reopened_after_finishing_is_followed_then_the_room_is_left(
    engine_env: EngineEnv,
) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(env, streaming_required=False)
    await race_finished(env, race.slug, one, two, second_forfeits=True)
    await fake.racer(race.slug, two).unforfeit()
    await eventually(lambda: ("race", "finished", "in_progress") in summary(env, race.slug))
    assert not room.finished
    await fake.racer(race.slug, two).done()
    await eventually(
        lambda: summary(env, race.slug).count(("race", "in_progress", "finished")) == 2
    )


async def test_a_cancelled_race_ends_the_connection(engine_env: EngineEnv) -> None:
    env, _fake = engine_env, engine_env.fake
    manager, race, room = await watched_race(env)
    await room.cancel()
    await asyncio.wait_for(room.wait_closed(), 5)
    assert room.finished
    await eventually(lambda: race.slug not in manager.bot(CATEGORY).rooms)
    await env.dispatcher.drain()
    assert ("race", "open", "cancelled") in summary(env, race.slug)


async def test_the_socket_is_renewed_before_its_token_expires(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    env.timings = production_timings(env)
    clock = ManualClock()
    await add_alttpr_bot(env)
    manager = await started(env, clock)
    race = fake.open_race(CATEGORY)
    room = await manager.room(race.name)
    await asyncio.wait_for(room.wait_connected(), 5)
    tokens = fake.request_count("/o/token")
    life = fake.token_lifetime

    await clock.advance(life * 0.49)  # before the token's half-life: nothing moves
    assert room.connect_count == 1 and fake.request_count("/o/token") == tokens
    await clock.advance(life * 0.27)  # past three quarters: the socket moved to a new token
    await eventually(lambda: room.connect_count == 2 and room.is_connected)
    assert fake.request_count("/o/token") == tokens + 1
    assert fake.socket_count(race.slug) == 1
    await room.send_message("fresh token")
    await env.dispatcher.drain()
    assert len(env.of(RacetimeBotJoinedRaceEvent)) == 1, "a renewal is not a new join"


async def test_a_finished_room_is_left_when_no_unfinish_comes(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    env.timings = replace(
        env.timings, connection=replace(env.timings.connection, finished_linger=0.3)
    )
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    manager, race, room = await watched_race(env, streaming_required=False)
    await race_finished(env, race.slug, one, two)
    assert not room.finished
    assert [r.slug for r in await env.store.active_rooms(CATEGORY)] == [race.slug]
    await asyncio.wait_for(room.wait_closed(), 3)
    assert room.finished
    await eventually(lambda: race.slug not in manager.bot(CATEGORY).rooms)
    assert await env.store.active_rooms(CATEGORY) == [], "left after the window"


async def test_room_actions_reach_racetime(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    one, two = fake.seed.users["RacerOne"], fake.seed.users["RacerTwo"]
    _manager, race, room = await watched_race(
        env, invitational=True, streaming_required=False, auto_start=False
    )
    await fake.racer(race.slug, one).request_invite()
    await room.accept_request(one)
    assert fake.race(race.slug).entrant(fake.users[one]).state == "joined"
    await room.add_monitor(one)
    assert fake.users[one] in fake.race(race.slug).monitors
    await room.invite(two)
    await fake.racer(race.slug, two).accept_invite()
    await fake.racer(race.slug, one).ready()
    await fake.racer(race.slug, two).ready()
    await room.force_start()
    assert fake.race(race.slug).status == "pending"
    with pytest.raises(RacetimeActionError, match="Race cannot be started yet"):
        await room.force_start()


async def test_partitioned_ends_the_connection(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    _manager, race, room = await watched_race(env)
    data = fake.race_data(race.slug)
    data["version"] += 5
    data["status"] = {"value": "partitioned", "verbose_value": "Partitioned", "help_text": ""}
    await fake.inject_frame(
        race.slug,
        {
            "type": "race.data",
            "date": "2026-11-24T00:00:00+00:00",
            "race": data,
            "version": data["version"],
        },
    )
    await asyncio.wait_for(room.wait_closed(), 3)
    await env.dispatcher.drain()
    assert ("race", "open", "partitioned") in summary(env, race.slug)


class FlakyLinks:
    """The real store, whose linked-user lookup fails the first time it is asked."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.failures = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def linked_user_ids(self, racetime_ids: object) -> dict[str, int]:
        if self.failures == 0:
            self.failures += 1
            raise ConnectionError("database went away")
        return await self._store.linked_user_ids(racetime_ids)  # type: ignore[attr-defined]


async def test_a_failed_user_lookup_is_logged_and_the_event_still_goes_out(
    engine_env: EngineEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env, fake = engine_env, engine_env.fake
    one = fake.seed.users["RacerOne"]
    linked = await env.link(one, discord_id=42_000_000_000_000_001)
    flaky = FlakyLinks(env.store)
    env.store = flaky  # type: ignore[assignment]
    _manager, race, _room = await watched_race(env, streaming_required=False)
    with caplog.at_level(logging.ERROR, logger="racetime.connection"):
        await fake.racer(race.slug, one).join()
        await eventually(lambda: env.of(RacetimeEntrantJoinedEvent))
    assert flaky.failures == 1
    assert "could not look up linked users" in caplog.text
    joined = env.of(RacetimeEntrantJoinedEvent)[0]
    assert joined.user_id is None  # unknown, not the system
    await fake.racer(race.slug, one).ready()
    await eventually(lambda: env.of(RacetimeEntrantStatusChangedEvent))
    assert env.of(RacetimeEntrantStatusChangedEvent)[0].user_id == linked


async def test_a_room_that_vanished_from_racetime_is_left(engine_env: EngineEnv) -> None:
    env, fake = engine_env, engine_env.fake
    manager, race, room = await watched_race(env)
    await env.event_log.flush()
    await fake.drop_sockets(race.slug)
    del fake.races[race.slug]  # deleted by racetime staff
    await asyncio.wait_for(room.wait_closed(), 5)
    assert room.finished
    assert fake.request_count(f"/{CATEGORY}/{race.slug}/data") >= 1
    assert [r.slug for r in await env.store.active_rooms(CATEGORY)] == []
    await eventually(lambda: race.slug not in manager.bot(CATEGORY).rooms)


async def test_settings_racetime_drops_without_a_word_are_reported(
    engine_env: EngineEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    manager = await started(env)
    with caplog.at_level(logging.WARNING, logger="racetime.category_bot"):
        dropped = await manager.create_room(
            CATEGORY, RaceSettings(goal="Beat the game", hide_entrants=True)
        )
    assert dropped.settings_not_taken == ("hide_entrants",)
    assert "did not apply hide_entrants" in caplog.text
    kept = await manager.create_room(CATEGORY, RaceSettings(goal="Beat the game", unlisted=True))
    assert kept.settings_not_taken == ()
