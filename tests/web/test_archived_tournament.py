"""Matches of an archived tournament get no room, and every way in agrees: the scheduler
skips them, ``/match info`` says why, ``/open-room`` neither suggests nor opens them, the HTTP
API refuses. The whole RaceDesk on a real database, the fake racetime server over sockets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.errors import UserFacingError
from core.rooms.rules import Refusal
from tests.web.scene import BY_ORGANIZER, GUILD, ApiScene

ARCHIVED = "**Winter Cup** is archived, so its matches get no room"


@pytest.fixture
async def due(scene: ApiScene) -> ApiScene:
    """The match's room due now (auto-create on, the match in half an hour)."""
    services = scene.services
    await services.tournaments.update_settings(
        GUILD, "Winter Cup", auto_create_rooms=True, actor=BY_ORGANIZER
    )
    await services.matches.reschedule(
        GUILD, scene.match_id, services.clock.now() + timedelta(minutes=30), actor=BY_ORGANIZER
    )
    info = await services.matches.info(GUILD, scene.match_id)
    assert info.room_reason is not None and info.room_reason.startswith("The room is due now")
    await services.tournaments.archive(GUILD, "Winter Cup", actor=BY_ORGANIZER)
    return scene


async def test_match_info_says_why_there_is_no_room(due: ApiScene) -> None:
    services = due.services
    decision = await services.match_rooms.should_create_room_for_match(due.match_id)
    assert decision.code is Refusal.ARCHIVED
    info = await services.matches.info(GUILD, due.match_id)
    assert info.room_reason is not None and info.room_reason.startswith(ARCHIVED)


async def test_open_room_neither_suggests_nor_opens_it(due: ApiScene) -> None:
    services = due.services
    assert await services.open_room.suggest(GUILD, "", actor=BY_ORGANIZER) == []
    assert await services.open_room.suggest(GUILD, str(due.match_id), actor=BY_ORGANIZER) == []
    with pytest.raises(UserFacingError) as refused:
        await services.open_room.open(GUILD, due.match_id, actor=BY_ORGANIZER)
    assert refused.value.message.startswith(ARCHIVED)
    assert due.rooms_on_fake() == []


async def test_the_api_refuses_it(due: ApiScene) -> None:
    status, body, _ = await due.call("POST", due.room_path())
    assert (status, body["error"]) == (409, "refused")
    assert body["message"].startswith(ARCHIVED)
    assert due.rooms_on_fake() == []


async def test_the_scheduler_skips_it(due: ApiScene) -> None:
    assert await due.services.match_scheduler.due() == []
    assert await due.services.match_scheduler.sweep() == 0
    assert due.rooms_on_fake() == []


async def test_a_live_race_of_a_closed_async_tournament_gets_no_room(scene: ApiScene) -> None:
    """The scheduler skipped it already; /liverace open opened it anyway."""
    from datetime import UTC, datetime

    services = scene.services
    await services.async_tournaments.create(
        GUILD, "Async Cup", category="alttpr", actor=BY_ORGANIZER
    )
    race = await services.live_races.create(
        GUILD, "Async Cup", datetime.now(UTC).replace(microsecond=0) + timedelta(days=1),
        actor=BY_ORGANIZER,
    )
    await services.async_tournaments.close(GUILD, "Async Cup", actor=BY_ORGANIZER)
    with pytest.raises(UserFacingError) as refused:
        await services.live_races.open_room(GUILD, race.id, actor=BY_ORGANIZER)
    assert refused.value.message.startswith("**Async Cup** is closed, so its live races get no")
    assert scene.rooms_on_fake() == []
