"""Commands typed in a match's race room: a racer asks for !help and rolls the seed with
!seed (alttpr.com, through pyz3r; the players get it by DM), the organizer !locks it, a racer
calls the fair-play agreement mid-race and the staff channel is told; the organizer reviews
and clears it from Discord."""

from __future__ import annotations

from collections.abc import Callable

import discord

from core.events import FpaCalledEvent, MatchResultEvent, RacetimeRoomOpenedEvent
from rehearsal.scenes.not_let_in import STAFF
from rehearsal.scenes.tournament import (
    TOURNAMENT,
    countdown,
    link,
    posted_in,
    schedule_without_room,
)
from rehearsal.stage import Scene, Stage

MATCH = "Semi-final 3"
SEED_DM = "🚪 Match seed"
FPA_AT, FINISH = "0:42:10.0", {"RacerOne": "1:31:02.7", "RacerTwo": "1:33:48.1"}


async def say(stage: Stage, race: str, who: str, racetime_id: str, text: str) -> str:
    """``who`` types ``text`` in the room's chat; returns RaceDesk's answer there."""
    api = stage.racetime
    before = len(await api.chat(race))
    await stage.racetime_acts(who, f"types “{text}” in the room's chat",
                              api.say(race, racetime_id, text))
    answers: list[str] = []

    async def answered() -> bool:
        new = (await api.chat(race))[before:]
        answers[:] = [m["message"] for m in new
                      if m.get("bot") and not m.get("is_system") and not m.get("actions")]
        return bool(answers)

    await stage.wait_until(f"RaceDesk's answer to “{text}” in the room", answered)
    stage.timeline.line("RaceDesk", f"in the room's chat: {answers[0]}")
    return answers[0]


def seed_for(member: discord.Member) -> Callable[[discord.Message], bool]:
    """The seed's notification for ``member``: by DM, or in the fallback channel."""

    def matches(message: discord.Message) -> bool:
        return (
            bool(message.embeds) and message.embeds[0].title == SEED_DM
            and (getattr(message.channel, "recipient", None) == member
                 or member.mention in (message.content or ""))
        )

    return matches


def expect(stage: Stage, answer: str, text: str) -> None:
    if text not in answer:
        raise stage.fail(f"an answer saying “{text}”", answer)


async def play(stage: Stage) -> None:
    cast, api = stage.cast, stage.racetime
    organizer, moderator, one, two = cast.admin, cast.owner, "RacerOne", "RacerTwo"
    staff = stage.guild.text_channel(STAFF)

    async with stage.step(f"{organizer} sets {TOURNAMENT}'s seeds: ALTTPR, presets open and "
                          "standard"):
        reply = await stage.slash(organizer, "tournament seeds", tournament=TOURNAMENT,
                                  provider="alttpr", presets="open, standard")
        stage.expect_reply(reply, "open")

    async with stage.step(f"{organizer} links her racetime.gg account, to act in race rooms"):
        grace = await stage.racetime_acts(organizer, "has a racetime.gg account",
                                          api.add_user(organizer))
        await link(stage, organizer, racetime_id=grace)

    async with stage.step(f"{organizer} schedules the {MATCH}, {one} vs {two}; {moderator} "
                          "opens its room; both players accept"):
        scheduled = await schedule_without_room(stage, organizer, [one, two], MATCH, hours=3)
        preview = await stage.slash(moderator, "open-room", match=str(scheduled.match_id))
        await stage.press(moderator, preview, "Confirm")
        opened = await stage.expect_event(
            RacetimeRoomOpenedEvent, "the room opened",
            lambda e: e.match_id == scheduled.match_id,
        )
        race = f"{opened.category}/{opened.room_slug}"
        for name in (one, two):
            await stage.racetime_acts(name, "accepts the invitation",
                                      api.racer(race, cast.racers[name], "accept_invite"))

    async with stage.step("RaceDesk pins a [Roll seed] button in the room"):
        pinned: list[dict[str, object]] = []

        async def button() -> bool:
            pinned[:] = [m for m in await api.chat(race) if m.get("bot") and m.get("actions")]
            return bool(pinned)

        await stage.wait_until("the pinned [Roll seed] button", button)
        labels = " ".join(f"[{label}]" for label in pinned[0]["actions"])  # type: ignore[attr-defined]
        stage.timeline.line("RaceDesk", f"pins in the room's chat: {pinned[0]['message']} {labels}")

    async with stage.step(f"{one} asks the room for !help"):
        answer = await say(stage, race, one, cast.racers[one], "!help")
        expect(stage, answer, "!seed [preset]")

    async with stage.step(f"{two} rolls the seed with !seed: it is posted in the room and "
                          "both players get it by DM"):
        answer = await say(stage, race, two, cast.racers[two], "!seed")
        expect(stage, answer, "here is the seed (open): http")
        for name in (one, two):
            # RacerTwo's DMs are closed (scene 4): theirs comes in #race-notices.
            await stage.expect_sent(f"the seed for {name}", seed_for(stage.member(name)))

    async with stage.step(f"{organizer} types !lock; {one}'s !seed is refused: one seed per "
                          "room"):
        answer = await say(stage, race, organizer, grace, "!lock")
        expect(stage, answer, "locked already")
        answer = await say(stage, race, one, cast.racers[one], "!seed standard")
        expect(stage, answer, "The seed is already rolled")

    async with stage.step(f"the race starts; {one} calls the fair-play agreement at {FPA_AT}: "
                          f"#{STAFF} is told"):
        for name in (one, two):
            await stage.racetime_acts(name, "readies up",
                                      api.racer(race, cast.racers[name], "ready"))
        clock = await countdown(stage, opened.room_slug)
        await clock.to(FPA_AT)
        answer = await say(stage, race, one, cast.racers[one], "!fpa my game froze")
        expect(stage, answer, "fair-play agreement called at 0:42:")
        await stage.expect_event(FpaCalledEvent, "the fair-play call",
                                 lambda e: e.match_id == scheduled.match_id)
        await stage.expect_sent(f"the fair-play call posted in #{STAFF}", posted_in(staff))

    async with stage.step("both finish: the results are recorded, flagged for review"):
        for name, race_time in FINISH.items():
            await clock.to(race_time)
            await stage.racetime_acts(name, f"finishes in {race_time}",
                                      api.racer(race, cast.racers[name], "done"))
        await stage.expect_event(MatchResultEvent, "the match's results",
                                 lambda e: e.match_id == scheduled.match_id)
        await stage.expect_sent("the results in #results",
                                lambda m: getattr(m.channel, "name", "") == "results")

    async with stage.step(f"{organizer} reviews with /match info, then clears the call"):
        info = await stage.slash(organizer, "match info", match=str(scheduled.match_id))
        stage.expect_reply(info, "Under review")
        cleared = await stage.slash(organizer, "match fpa-clear",
                                    match=str(scheduled.match_id))
        stage.expect_reply(cleared, "Cleared 1 fair-play call")


SCENE = Scene("Commands in the race room: help, the seed, a fair-play call", play)
