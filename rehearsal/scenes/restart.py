"""RaceDesk goes down in the middle of a race; racers go on; nothing is lost when it is back.

The rooms' last snapshots and every event are committed together, so after the restart the
engine diffs what racetime shows now against what it had stored, and reports each change
made while it was away once, results included.
"""

from __future__ import annotations

from core.events import (
    RacetimeBotJoinedRaceEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
)
from rehearsal.matchers import entrant
from rehearsal.scenes.tournament import countdown
from rehearsal.stage import Scene, Stage

FINISHES = ("1:29:40.2", "1:33:05.7")  # the two racers' times, while RaceDesk is away


async def play(stage: Stage) -> None:
    cast, api = stage.cast, stage.racetime
    one, two = list(cast.racers.items())[:2]
    race = await stage.racetime_acts(
        "someone", f"opens another race room in {cast.category}", api.open_race(cast.category)
    )
    slug = race.rsplit("/", 1)[-1]
    async with stage.step(f"RaceDesk joins {race}"):
        await stage.expect_event(
            RacetimeBotJoinedRaceEvent, f"RaceDesk to join {race}", lambda e: e.room_slug == slug
        )
    async with stage.step(f"{one[0]} and {two[0]} race in {race}"):
        for name, user in (one, two):
            await stage.racetime_acts(name, "joins and readies up", api.racer(race, user, "join"))
            await api.racer(race, user, "ready")
        clock = await countdown(stage, slug)
        await stage.expect_event(
            RacetimeRaceStatusChangedEvent, "the race to start",
            lambda e: e.room_slug == slug and e.new_status == "in_progress",
        )

    async with stage.step("RaceDesk's racetime engine stops (a crash, a deploy)"):
        stage.timeline.line("RaceDesk", "stops watching racetime (every room's socket closes)")
        await stage.services.racetime_engine.stop()
    async with stage.step("the racers finish while RaceDesk is away"):
        for (name, user), race_time in zip((one, two), FINISHES, strict=True):
            await clock.to(race_time)
            await stage.racetime_acts(name, f"finishes in {race_time} (nobody is watching)",
                                      api.racer(race, user, "done"))
    async with stage.step("RaceDesk is back and reports both results and the finish, once"):
        stage.timeline.line("RaceDesk", "starts again and rejoins the rooms it was watching")
        await stage.services.racetime_engine.start()
        for name, user in (one, two):
            await stage.expect_event(
                RacetimeEntrantStatusChangedEvent, f"{name}'s result",
                entrant(user, status="done"),
            )
        await stage.expect_event(
            RacetimeRaceStatusChangedEvent, "the race to be reported finished",
            lambda e: e.room_slug == slug and e.new_status == "finished",
        )
        results = [
            e for e in stage.events
            if isinstance(e, RacetimeEntrantStatusChangedEvent) and e.room_slug == slug
            and e.new_status == "done"
        ]
        if len(results) != 2:
            raise stage.fail("each result reported once", f"{len(results)} results reported")


SCENE = Scene("RaceDesk restarts in the middle of a race: nothing is lost", play)
