"""A racetime bot unassigned from a server opens no more rooms there, whichever way a room is
asked for: ``/open-room``'s service, the HTTP API, the scheduler (match and live-race rooms).
The whole RaceDesk on a real database, the fake racetime server over real sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.access import Actor
from core.errors import UserFacingError
from core.events import MatchRoomProblemEvent, decode_event
from core.rooms.match_rooms import OpeningStatus
from core.rooms.rules import Refusal
from db.models import EventLogEntry, Match
from tests.web.scene import BY_ORGANIZER, BY_OWNER, CATEGORY, GUILD, ApiScene

UNASSIGNED = (
    f"The racetime bot for `{CATEGORY}` is no longer assigned to this server, so no room can "
    "be opened with it here. Ask the bot's owner to `/racetime bot assign` it to this server, "
    "or change the category"
)


async def unassign(scene: ApiScene) -> None:
    assert await scene.services.racetime_admin.assign(
        CATEGORY, GUILD, actor=BY_OWNER, assign=False
    )


async def problems(scene: ApiScene, match_id: int) -> list[str]:
    from sqlmodel import select

    async with scene.services.sessionmaker() as session:
        rows = await session.execute(
            select(EventLogEntry).where(EventLogEntry.kind == MatchRoomProblemEvent.__name__)
        )
        events = [decode_event(row.kind, row.payload) for row in rows.scalars()]
    return [e.problem for e in events
            if isinstance(e, MatchRoomProblemEvent) and e.match_id == match_id]


async def test_open_room_is_refused_with_what_to_do(scene: ApiScene) -> None:
    await unassign(scene)
    moderator = Actor.server_admin(BY_ORGANIZER.discord_id or 0, GUILD)
    with pytest.raises(UserFacingError) as refused:
        await scene.services.open_room.open(GUILD, scene.match_id, actor=moderator)
    assert refused.value.message.startswith(UNASSIGNED)
    assert "/tournament settings category:" in refused.value.message
    assert scene.rooms_on_fake() == []


async def test_the_open_room_preview_refuses_before_anyone_confirms(scene: ApiScene) -> None:
    """The moderator learns it from the preview, not after pressing Confirm."""
    moderator = Actor.server_admin(BY_ORGANIZER.discord_id or 0, GUILD)
    shown = await scene.services.open_room.preview(GUILD, scene.match_id, actor=moderator)
    assert shown.can_open
    await unassign(scene)
    with pytest.raises(UserFacingError) as refused:
        await scene.services.open_room.preview(GUILD, scene.match_id, actor=moderator)
    assert refused.value.message.startswith(UNASSIGNED)
    assert scene.rooms_on_fake() == []


async def test_the_api_refuses_with_409_and_what_to_do(scene: ApiScene) -> None:
    await unassign(scene)
    status, body, _ = await scene.call("POST", scene.room_path())
    assert (status, body["error"]) == (409, "refused")
    assert body["message"].startswith(UNASSIGNED)
    assert scene.rooms_on_fake() == []


async def test_the_scheduler_records_a_room_problem_once_and_opens_once_assigned_again(
    scene: ApiScene,
) -> None:
    services = scene.services
    await services.tournaments.update_settings(
        GUILD, "Winter Cup", auto_create_rooms=True, actor=BY_ORGANIZER
    )
    await unassign(scene)
    async with services.sessionmaker() as session:
        match = await session.get(Match, scene.match_id)
        assert match is not None and match.scheduled_at is not None
        due = match.scheduled_at - timedelta(minutes=10)

    decision = await services.match_rooms.should_create_room_for_match(scene.match_id, due)
    assert decision.code is Refusal.BOT_NOT_ASSIGNED
    assert decision.reason.startswith(UNASSIGNED)

    # The scheduler's way in: the system actor, reason "scheduled". No crash, no room.
    for _ in range(2):
        opening = await services.match_rooms.create_race_room_for_match(
            scene.match_id, actor_user_id=-1, reason="scheduled", actor=Actor.system()
        )
        assert opening.status is OpeningStatus.FAILED
    assert scene.rooms_on_fake() == []
    async with services.sessionmaker() as session:
        match = await session.get(Match, scene.match_id)
        assert match is not None and (match.room_error or "").startswith(UNASSIGNED)
    assert len(await problems(scene, scene.match_id)) == 1, "the staff channel is told once"
    info = await services.matches.info(GUILD, scene.match_id)
    assert (info.room_error or "").startswith(UNASSIGNED)

    # Assigned again: the next try opens it (no failed claim stands in the way).
    await services.racetime_admin.assign(CATEGORY, GUILD, actor=BY_OWNER)
    opening = await services.match_rooms.create_race_room_for_match(
        scene.match_id, actor_user_id=-1, reason="scheduled", actor=Actor.system()
    )
    assert opening.status is OpeningStatus.OPENED
    assert len(scene.rooms_on_fake()) == 1


async def test_a_live_race_room_is_refused_by_hand_and_recorded_for_the_scheduler(
    scene: ApiScene,
) -> None:
    services = scene.services
    await services.async_tournaments.create(
        GUILD, "Async Cup", category=CATEGORY, actor=BY_ORGANIZER
    )
    race = await services.live_races.create(
        GUILD, "Async Cup", datetime.now(UTC).replace(microsecond=0) + timedelta(days=1),
        actor=BY_ORGANIZER,
    )
    await unassign(scene)
    with pytest.raises(UserFacingError) as refused:
        await services.live_races.open_room(GUILD, race.id, actor=BY_ORGANIZER)
    assert refused.value.message.startswith(UNASSIGNED)
    opening = await services.live_race_rooms.open_room(
        race.id, actor_user_id=-1, reason="scheduled", actor=Actor.system()
    )
    assert opening.status is OpeningStatus.FAILED
    decision = await services.live_race_rooms.should_open(
        race.id, datetime.now(UTC) + timedelta(days=1)
    )
    assert decision.code is Refusal.BOT_NOT_ASSIGNED
    assert scene.rooms_on_fake() == []
