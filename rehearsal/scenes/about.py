"""Anyone asks /about: version, uptime and health, racetime bots included."""

from __future__ import annotations

from rehearsal.stage import Scene, Stage


async def play(stage: Stage) -> None:
    racer = next(iter(stage.cast.racers))
    async with stage.step(f"{racer} asks /about and sees RaceDesk healthy"):
        reply = await stage.slash(racer, "about")
        stage.expect_reply(reply, "racetime bots: 2/2 healthy")  # alttpr, smz3 (admin scene)
        stage.expect_reply(reply, "Database: sqlite reachable")


SCENE = Scene("Anyone checks RaceDesk's health", play)
