"""``!seed`` with the ALTTPR provider (pyz3r) against a fake alttpr.com over a real socket: a
roll that fails or times out says so in the room and leaves the room unlocked, and a room
asked twice at once (``!seed`` and ``/match seed``) rolls once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from pydantic import AnyHttpUrl

from cogs._shared.permissions import actor_of_user
from core.config import SeedServiceSettings
from db.secrets import SecretBox
from fake_alttpr import FakeAlttpr, running_fake_alttpr
from fake_racetime import FakeRacetimeServer
from tests.room_commands.scene import TOURNAMENT, RoomScene, match_room, settle

TIMEOUT = 1.0


@pytest.fixture
async def alttpr() -> AsyncIterator[FakeAlttpr]:
    async with running_fake_alttpr(seed=11) as fake:
        yield fake


@asynccontextmanager
async def alttpr_room(
    db_url: str, secret_box: SecretBox, fake: FakeRacetimeServer, alttpr: FakeAlttpr
) -> AsyncIterator[RoomScene]:
    settings = SeedServiceSettings(
        alttpr_url=AnyHttpUrl(alttpr.base_url), timeout_seconds=TIMEOUT
    )
    async with match_room(db_url, secret_box, fake, seeds=settings, template=False) as scene:
        await scene.harness.services.seeds.configure(
            actor_of_user(scene.olga), scene.harness.guild.id, TOURNAMENT, provider="alttpr",
        )
        yield scene


async def test_a_failing_service_is_told_in_the_room_and_the_room_stays_unlocked(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer, alttpr: FakeAlttpr
) -> None:
    async with alttpr_room(db_url, secret_box, fake_racetime, alttpr) as scene:
        alttpr.fail_next(1, 500)
        failed = await scene.say("RacerOne", "!seed")
        assert failed.startswith("RacerOne: ") and "nothing was rolled" in failed.lower()
        assert "Seed" not in (fake_racetime.race(scene.slug).info_bot or "")

        alttpr.delay(TIMEOUT * 3)
        slow = await scene.say("RacerOne", "!seed")
        assert "did not answer" in slow.lower() and "nothing was rolled" in slow.lower()

        alttpr.reset()
        rolled = await scene.say("RacerTwo", "!seed")
        assert f"{alttpr.base_url}/h/" in rolled and "code:" in rolled
        assert len(alttpr.generate_calls) == 1


async def test_a_room_asked_twice_at_once_rolls_once(
    db_url: str, secret_box: SecretBox, fake_racetime: FakeRacetimeServer, alttpr: FakeAlttpr
) -> None:
    async with alttpr_room(db_url, secret_box, fake_racetime, alttpr) as scene:
        harness = scene.harness
        alttpr.delay(0.4)
        before = len(scene.bot_messages())
        typed = fake_racetime.racer(scene.slug, scene.racetime_id("RacerOne")).say("!seed")
        from_discord = harness.slash("match seed", member=scene.olga, match=str(scene.match_id))
        _, answer = await asyncio.gather(typed, from_discord)
        await settle(scene, lambda: len(scene.bot_messages()) >= before + 1)
        await asyncio.sleep(0.6)
        await harness.services.dispatcher.drain()
        said = [m.message for m in scene.bot_messages()[before:]]
        replies = [m.content or "" for m in answer.messages]
        busy = "A seed is being rolled for this room right now"
        told_busy = sum(busy in text for text in said + replies)
        assert told_busy == 1, (said, replies)
        assert len(alttpr.generate_calls) == 1
