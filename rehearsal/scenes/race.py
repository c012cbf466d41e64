"""A race on racetime.gg, watched by RaceDesk: every change becomes an event."""

from __future__ import annotations

from core.events import (
    RacetimeBotJoinedRaceEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
)
from rehearsal.matchers import entrant
from rehearsal.scenes.tournament import countdown
from rehearsal.stage import Scene, Stage

# What each racer does once the race is on, in this order, and when (race time).
FINISH = {
    "RacerOne": ("done", "1:34:12.4"),
    "RacerTwo": ("forfeit", "1:38:00.0"),
    "RacerThree": ("done", "1:41:57.9"),
}
OUTCOME = {"done": "finishes", "forfeit": "forfeits"}


async def play(stage: Stage) -> None:
    cast, api = stage.cast, stage.racetime
    racers = cast.racers
    race: str = await stage.racetime_acts(
        "someone", f"opens a race room in {cast.category}", api.open_race(cast.category)
    )
    slug = race.rsplit("/", 1)[-1]

    def in_room(event: RacetimeBotJoinedRaceEvent | RacetimeRaceStatusChangedEvent) -> bool:
        return event.room_slug == slug

    async with stage.step(f"RaceDesk finds {race} and joins it"):
        await stage.expect_event(RacetimeBotJoinedRaceEvent, f"RaceDesk to join {race}", in_room)

    for name, user in racers.items():
        async with stage.step(f"{name} joins and is reported"):
            await stage.racetime_acts(name, "joins the race", api.racer(race, user, "join"))
            await stage.expect_event(
                RacetimeEntrantJoinedEvent, f"{name} joining",
                entrant(user, room=slug),
            )
    for name, user in racers.items():
        async with stage.step(f"{name} readies up"):
            await stage.racetime_acts(name, "readies up", api.racer(race, user, "ready"))
            await stage.expect_event(
                RacetimeEntrantStatusChangedEvent, f"{name} ready",
                entrant(user, status="ready"),
            )

    async with stage.step("everyone is ready: racetime counts down, then the race starts"):
        clock = await countdown(stage, slug)
        await stage.expect_event(
            RacetimeRaceStatusChangedEvent, "the race to start",
            lambda e: in_room(e) and e.new_status == "in_progress",
        )

    for name, (action, race_time) in FINISH.items():
        user = racers[name]
        status = "done" if action == "done" else "dnf"
        async with stage.step(f"{name} {OUTCOME[action]}"):
            await clock.to(race_time)
            said = f"{OUTCOME[action]} in {race_time}" if action == "done" else OUTCOME[action]
            await stage.racetime_acts(name, said, api.racer(race, user, action))
            await stage.expect_event(
                RacetimeEntrantStatusChangedEvent, f"{name} to be {status}",
                entrant(user, status=status),
            )

    async with stage.step("the race finishes"):
        await stage.expect_event(
            RacetimeRaceStatusChangedEvent, "the race to finish",
            lambda e: in_room(e) and e.new_status == "finished",
        )


SCENE = Scene("A race on racetime.gg, watched by RaceDesk", play)
