"""A player racetime.gg will not let into their match's room (the room requires streaming,
their account has no Twitch connected): RaceDesk does not count them as invited, tells them
what is wrong and what to do instead of "your room is open", tells the organizers in the
staff channel, and /match info shows it."""

from __future__ import annotations

from core.events import MatchInviteRefusedEvent
from rehearsal.scenes.tournament import TOURNAMENT, link, posted_in, schedule_without_room
from rehearsal.stage import Scene, Stage

NEWCOMER = "RacerFour"
MATCH = "Qualifier"
STAFF = "staff"
NOT_IN = "⚠️ Match room opened: you are not in"


async def play(stage: Stage) -> None:
    organizer, moderator, one = stage.cast.admin, stage.cast.owner, "RacerOne"
    newcomer = stage.member(NEWCOMER)

    async with stage.step(f"{organizer} gives {TOURNAMENT}'s organizers a #{STAFF} channel"):
        stage.timeline.line(organizer, f"creates #{STAFF}")
        staff = stage.guild.add_text_channel(STAFF)
        reply = await stage.slash(organizer, "tournament settings", tournament=TOURNAMENT,
                                  staff_channel=staff)
        stage.expect_reply(reply, "Staff channel")

    async with stage.step(f"{NEWCOMER}, new on racetime.gg and with no Twitch connected, links "
                          "their account"):
        stage.cast.racers[NEWCOMER] = await stage.racetime_acts(
            NEWCOMER, "signs up on racetime.gg (no Twitch account connected)",
            stage.racetime.add_user(NEWCOMER, streams=False),
        )
        await link(stage, NEWCOMER)

    async with stage.step(f"{organizer} schedules the {MATCH}, {one} vs {NEWCOMER}"):
        scheduled = await schedule_without_room(stage, organizer, [one, NEWCOMER], MATCH,
                                                hours=4)

    async with stage.step(f"{moderator} opens the room: racetime.gg will not let {NEWCOMER} "
                          f"in; {NEWCOMER} is told why, and so is #{STAFF}"):
        preview = await stage.slash(moderator, "open-room", match=str(scheduled.match_id))
        confirmed = await stage.press(moderator, preview, "Confirm")
        stage.expect_reply(confirmed, f"racetime.gg would not let `{NEWCOMER}#")
        await stage.expect_event(
            MatchInviteRefusedEvent, f"{NEWCOMER}'s invite refused",
            lambda e: e.match_id == scheduled.match_id,
        )
        await stage.expect_sent(
            f"a DM telling {NEWCOMER} what is wrong",
            lambda m: getattr(m.channel, "recipient", None) == newcomer
            and bool(m.embeds) and m.embeds[0].title == NOT_IN,
        )
        await stage.expect_sent(f"a post in #{STAFF}", posted_in(staff))

    async with stage.step(f"{NEWCOMER} sees it in /match info"):
        info = await stage.slash(NEWCOMER, "match info", match=str(scheduled.match_id))
        stage.expect_reply(info, "Not let into the room")


SCENE = Scene("A player racetime.gg will not let in: told why, and the organizers too", play)
