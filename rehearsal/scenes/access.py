"""Who may do what is one rule, asked at every way in: a member is refused an organizer's
command (Discord hides it from them as well); a racetime bot its owner no longer lets this
server use opens no room here, and the refusal says what to do; assigned again, it does."""

from __future__ import annotations

from core.events import RoomForMatchEvent
from rehearsal.scenes.tournament import TOURNAMENT, schedule_without_room
from rehearsal.stage import Scene, Stage

MATCH = "Exhibition"
NOT_ASSIGNED = "is no longer assigned to this server"


async def play(stage: Stage) -> None:
    cast = stage.cast
    organizer, owner, member = cast.admin, cast.owner, "RacerTwo"

    async with stage.step(f"{member}, a member, tries an organizer's command and is refused"):
        reply = await stage.slash(
            member, "match schedule", tournament=TOURNAMENT,
            players=" ".join(stage.member(name).mention for name in ("RacerOne", member)),
            when=f"<t:{int(stage.now().timestamp()) + 24 * 3600}:F>", title=MATCH,
        )
        stage.expect_reply(reply, "Only organizers can do this")

    async with stage.step(f"{organizer} schedules the {MATCH}, its room to be opened by hand"):
        scheduled = await schedule_without_room(
            stage, organizer, ["RacerOne", member], MATCH, hours=3
        )

    async with stage.step(f"{owner}, the bot's owner, stops the `{cast.category}` bot "
                          "serving this server"):
        reply = await stage.slash(owner, "racetime bot unassign", category=cast.category)
        stage.expect_reply(reply, "no longer serves this server")

    async with stage.step(f"the {MATCH}'s room cannot be opened here, and the refusal says "
                          "what to do"):
        refused = await stage.slash(owner, "open-room", match=str(scheduled.match_id))
        stage.expect_reply(refused, NOT_ASSIGNED)

    async with stage.step(f"{owner} lets this server use the bot again; the room opens"):
        reply = await stage.slash(owner, "racetime bot assign", category=cast.category)
        stage.expect_reply(reply, "now serves this server")
        preview = await stage.slash(owner, "open-room", match=str(scheduled.match_id))
        await stage.press(owner, preview, "Confirm")
        await stage.expect_event(
            RoomForMatchEvent, f"the {MATCH}'s room",
            lambda e: e.match_id == scheduled.match_id,
        )


SCENE = Scene("Who may do what: one rule at every way in, and a bot that no longer serves "
              "the server", play)
