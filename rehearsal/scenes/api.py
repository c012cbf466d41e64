"""A program outside Discord (a tournament's scheduling sheet) opens a match's room over
RaceDesk's HTTP API with a bearer token an organizer created; opening twice is one room."""

from __future__ import annotations

import re

from core.events import RacetimeEntrantInvitedEvent, RacetimeRoomOpenedEvent
from rehearsal.matchers import entrant
from rehearsal.scenes.tournament import schedule_without_room
from rehearsal.stage import Scene, Stage

TOOL, TOKEN_NAME, MATCH = "sheet", "scheduling-sheet", "Semi-final 1"
WRONG_TOKEN = "rd_not-a-real-token"  # noqa: S105 - what a mistyped token looks like
GOAL = "Beat the game (API)"
_TOKEN = re.compile(r"```\s*(\S+)\s*```")


async def play(stage: Stage) -> None:
    organizer, one, two = stage.cast.admin, "RacerOne", "RacerTwo"

    async with stage.step(f"{organizer} schedules the {MATCH}: its room is left to the "
                          "scheduling sheet"):
        scheduled = await schedule_without_room(stage, organizer, [one, two], MATCH, hours=3)
        path = f"/api/matches/{scheduled.match_id}/racetime-room"

    async with stage.step(f"{organizer} creates an API token for the sheet: shown once, "
                          "to them only"):
        reply = await stage.slash(organizer, "api-token create", name=TOKEN_NAME)
        found = _TOKEN.search(reply.text)
        if found is None:
            raise stage.fail("a reply with the token in a code block", reply.text[:200])
        token = found.group(1)
        stage.timeline.line(organizer, f"pastes the token into the {TOOL}'s settings")

    async with stage.step(f"with a wrong token, the API refuses the {TOOL}"):
        status, _ = await stage.call_api(TOOL, "POST", path, token=WRONG_TOKEN)
        if status != 401:
            raise stage.fail("HTTP 401", f"HTTP {status}")

    async with stage.step(f"the {TOOL} opens the room: {one} and {two} are invited"):
        status, room = await stage.call_api(TOOL, "POST", path, token=token,
                                            body={"goal": GOAL})
        if status != 201 or room.get("goal") != GOAL:
            raise stage.fail(f"HTTP 201 (created) with the goal {GOAL!r}", f"HTTP {status}: {room}")
        await stage.expect_event(
            RacetimeRoomOpenedEvent, "the room opened through the API",
            lambda e: e.match_id == scheduled.match_id,
        )
        for name in (one, two):
            await stage.expect_event(
                RacetimeEntrantInvitedEvent, f"{name} to be invited",
                entrant(stage.cast.racers[name], room=room["room_slug"]),
            )

    async with stage.step(f"the {TOOL} asks again: the same room, not a second one"):
        status, again = await stage.call_api(TOOL, "POST", path, token=token)
        if status != 200 or again.get("room_slug") != room["room_slug"]:
            raise stage.fail(
                f"HTTP 200 and the room {room['room_slug']} again", f"HTTP {status}: {again}"
            )
        status, seen = await stage.call_api(TOOL, "GET", path, token=token)
        if status != 200 or not seen.get("has_room"):
            raise stage.fail("has_room: true", f"HTTP {status}: {seen}")


SCENE = Scene("A scheduling sheet opens a match room through the HTTP API", play)
