"""An async tournament's live race: the organizer sets up a tournament and a pool, two players
join, a live race is scheduled, its room opens 15 minutes ahead on the scheduler, the
eligible players are invited and told at every step, the race is run and the runs recorded."""

from __future__ import annotations

from collections.abc import Callable

import discord

from core.events import (
    AsyncLiveRaceCreatedEvent,
    AsyncLiveRaceFinishedEvent,
    AsyncLiveRaceRoomOpenedEvent,
    RacetimeEntrantInvitedEvent,
)
from core.live_races.live_races import LIVE_RACE_ROOM_MINUTES_DEFAULT
from rehearsal.matchers import entrant
from rehearsal.scenes.notifications import NOTICES
from rehearsal.scenes.tournament import accept_and_ready, countdown, on_time
from rehearsal.stage import Scene, Stage

ASYNC, POOL = "Winter Async", "Pool A"
OPEN_MINUTES = LIVE_RACE_ROOM_MINUTES_DEFAULT  # the room opens 15 minutes before the race
LEAD_SECONDS, FAST_LEAD_SECONDS = 8, 3  # the room falls due this long after scheduling


def told(stage: Stage, name: str, title: str) -> Callable[[discord.Message], bool]:
    """A check: the message tells ``name`` something titled ``title``, by DM or, with their
    DMs closed, in the fallback channel."""
    member = stage.member(name)

    def check(message: discord.Message) -> bool:
        direct = isinstance(message.channel, discord.DMChannel)
        # (ignored below: a DM channel has a recipient)
        if direct and message.channel.recipient != member:  # type: ignore[union-attr]
            return False
        in_notices = getattr(message.channel, "name", None) == NOTICES
        posted = in_notices and member in message.mentions
        return bool((direct or posted) and message.embeds and message.embeds[0].title == title)

    return check


async def play(stage: Stage) -> None:
    cast, api = stage.cast, stage.racetime
    organizer, players = cast.admin, ("RacerOne", "RacerTwo")

    async with stage.step(f"{organizer} creates the async tournament {ASYNC} and its {POOL}"):
        reply = await stage.slash(organizer, "async create", name=ASYNC, category=cast.category)
        stage.expect_reply(reply, f"Created the async tournament **{ASYNC}**")
        reply = await stage.slash(organizer, "async pool add", tournament=ASYNC, name=POOL)
        stage.expect_reply(reply, f"Added the pool **{POOL}**")

    for name in players:
        async with stage.step(f"{name} joins {ASYNC}"):
            reply = await stage.slash(name, "async join", tournament=ASYNC)
            stage.expect_reply(reply, "now registered")

    lead = FAST_LEAD_SECONDS if stage.fast else LEAD_SECONDS
    starts = int(stage.now().timestamp()) + OPEN_MINUTES * 60 + lead
    async with stage.step(f"{organizer} schedules a live race of {POOL}: its room falls due "
                          f"{lead} s from now; both players are told"):
        reply = await stage.slash(organizer, "liverace create", tournament=ASYNC, pool=POOL,
                                  when=f"<t:{starts}:F>")
        stage.expect_reply(reply, "**Eligible now:** 2 participant(s)")
        created = await stage.expect_event(AsyncLiveRaceCreatedEvent, "the live race")
        for name in players:
            await stage.expect_sent(f"{name} told of the live race",
                                    told(stage, name, "📅 Live race scheduled"))

    async with stage.step("the scheduler opens the room 15 minutes ahead and invites both"):
        opened = await stage.expect_event(
            AsyncLiveRaceRoomOpenedEvent, "the scheduler to open the room",
            lambda e: e.live_race_id == created.live_race_id, within=lead + 20,
        )
        late = stage.now().timestamp() - (starts - OPEN_MINUTES * 60)
        race = f"{cast.category}/{opened.room_slug}"
        stage.timeline.line("RaceDesk", f"opened {race} {on_time(late)}")
        for name in players:
            await stage.expect_event(
                RacetimeEntrantInvitedEvent, f"{name} to be invited",
                entrant(cast.racers[name], room=opened.room_slug),
            )
            await stage.expect_sent(f"{name} told the room is open",
                                    told(stage, name, "🚪 Live race room opened"))

    await accept_and_ready(stage, race, players)

    async with stage.step("the race starts; RacerTwo forfeits"):
        clock = await countdown(stage, opened.room_slug)
        await clock.to("0:52:10.0")
        await stage.racetime_acts("RacerTwo", "forfeits",
                                  api.racer(race, cast.racers["RacerTwo"], "forfeit"))

    async with stage.step("RacerOne finishes: the runs are recorded and both players get "
                          "the results"):
        await clock.to("1:36:50.1")
        await stage.racetime_acts("RacerOne", "finishes in 1:36:50.1",
                                  api.racer(race, cast.racers["RacerOne"], "done"))
        finished = await stage.expect_event(
            AsyncLiveRaceFinishedEvent, "the live race's results",
            lambda e: e.live_race_id == created.live_race_id,
        )
        if finished.finisher_count != 1 or finished.participant_count != 2:
            raise stage.fail("1 of 2 finished", finished.summary)
        for name in players:
            await stage.expect_sent(f"{name} told the results",
                                    told(stage, name, "✅ Live race finished"))
        info = await stage.slash("RacerOne", "liverace info", race=str(created.live_race_id))
        stage.expect_reply(info, "✅ Completed")


SCENE = Scene("An async tournament's live race: scheduled, opened 15 minutes ahead, raced, "
              "runs recorded", play)
