"""Commands in a live race's room: !match describes the live race, !fpa is recorded for its
entrants, and the seed commands say they are for match rooms."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from db.models import FpaCall
from tests.cogs.test_live_race import Scene, create_race, open_room, scene, under_way

__all__ = ["scene"]  # the live race tests' fixture, used here


async def answer(scene: Scene, slug: str, name: str, text: str) -> str:
    fake = scene.fake

    def bot_messages() -> list[str]:
        return [m.message for m in fake.race(slug).messages
                if m.bot and not m.is_system and not m.actions]

    before = len(bot_messages())
    await fake.racer(slug, scene.racetime_id(name)).say(text)
    async with asyncio.timeout(10):
        while len(bot_messages()) <= before:
            await scene.harness.services.dispatcher.drain()
            await asyncio.sleep(0.01)
    return bot_messages()[before]


async def test_commands_in_a_live_race_room(scene: Scene) -> None:
    race_id = await create_race(scene)
    slug = await open_room(scene, race_id)

    said = await answer(scene, slug, "RacerOne", "!match")
    assert f"live race #{race_id} · pool Pool A" in said and "Goal: All dungeons" in said
    seed = await answer(scene, slug, "RacerOne", "!seed")
    assert "!seed is for match rooms" in seed
    await under_way(scene, slug)
    helped = await answer(scene, slug, "RacerTwo", "!help")
    assert "!fpa" in helped and "!seed" not in helped
    called = await answer(scene, slug, "RacerTwo", "!fpa stream died")
    assert "fair-play agreement called at 0:00:" in called
    async with scene.harness.services.sessionmaker() as session:
        [call] = (await session.execute(select(FpaCall))).scalars().all()
    assert (call.live_race_id, call.match_id, call.reason) == (race_id, None, "stream died")
