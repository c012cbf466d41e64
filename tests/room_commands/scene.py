"""A match room with RaceDesk in it, for the race-room command tests: the real services and
cogs in a simulated Discord server, the fake racetime server over real sockets, and racers who
type in the room's chat.

Who is who: Ada (RacerOne) and Bob (RacerTwo) play the match; Olga (RacerThree) organizes
(Manage Server); Walt is linked but not in the server nor the race; Stranger never linked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import discord
import discord.ext.test.backend as dpytest_backend

from cogs._shared.permissions import actor_of_user
from core.config import RacetimeSettings, SeedServiceSettings
from db.models import User
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from fake_racetime.models import ChatMessage
from tests.plugins.discord_bot import DiscordHarness, running_harness
from tests.plugins.racetime_engine import eventually

WALT_DISCORD_ID = 777_000_000_000_000_001
TOURNAMENT = "Winter Cup"
TEMPLATE = "https://seeds.example.org/{preset}/{seed}"


@dataclass
class RoomScene:
    harness: DiscordHarness
    fake: FakeRacetimeServer
    slug: str
    match_id: int
    staff: discord.TextChannel
    ada: discord.Member
    bob: discord.Member
    olga: discord.Member

    def racetime_id(self, name: str) -> str:
        return self.fake.seed.users.get(name) or next(
            user.id for user in self.fake.users.values() if user.name == name
        )

    def bot_messages(self) -> list[ChatMessage]:
        """What RaceDesk said in the room (not racetime's system messages)."""
        return [m for m in self.fake.race(self.slug).messages if m.bot and not m.is_system]

    async def say(self, name: str, text: str) -> str:
        """``name`` types ``text``; returns RaceDesk's answer (the next bot message)."""
        before = len(self.bot_messages())
        await self.fake.racer(self.slug, self.racetime_id(name)).say(text)
        await settle(self, lambda: len(self.bot_messages()) > before)
        return self.bot_messages()[before].message

    async def under_way(self) -> None:
        fake = self.fake
        for name in ("RacerOne", "RacerTwo"):
            await fake.racer(self.slug, self.racetime_id(name)).ready()
        await eventually(lambda: fake.race(self.slug).status == "pending")
        await fake.advance_to_start(self.slug)
        await fake.advance(6)
        await eventually(lambda: fake.race(self.slug).status == "in_progress")
        await self.harness.services.dispatcher.drain()


async def settle(scene: RoomScene, predicate: object) -> None:
    """Until ``predicate()`` holds, the dispatcher drained (answers are sent by listeners)."""
    async with asyncio.timeout(10):
        while True:
            await scene.harness.services.dispatcher.drain()
            if predicate():  # type: ignore[operator]
                return
            await asyncio.sleep(0.01)


@asynccontextmanager
async def match_room(
    db_url: str,
    secret_box: SecretBox,
    fake: FakeRacetimeServer,
    *,
    seeds: SeedServiceSettings | None = None,
    template: bool = True,
) -> AsyncIterator[RoomScene]:
    """The scene above, its room opened with /open-room and both players in it."""
    racetime = RacetimeSettings(host=fake.host, scheme="http")
    fake.add_user("Walt", stream_live=True, twitch_channel="walt")
    fake.add_user("Stranger", stream_live=True, twitch_channel="stranger")
    async with running_harness(
        db_url, secret_box, racetime, deliver_notifications=True, seeds=seeds
    ) as harness:
        services, guild = harness.services, harness.guild
        ada, bob = harness.member(0), harness.member(1)
        olga = await harness.member_with_permissions(2, manage_guild=True)
        users = fake.seed.users
        await harness.run_alttpr_bot({
            ada: (users["RacerOne"], "RacerOne#1234"),
            bob: (users["RacerTwo"], "RacerTwo#1234"),
            olga: (users["RacerThree"], "RacerThree#1234"),
        })
        walt = next(u.id for u in fake.users.values() if u.name == "Walt")
        async with services.sessionmaker.begin() as session:
            session.add(User(discord_id=WALT_DISCORD_ID, racetime_id=walt,
                             racetime_name="Walt#0001"))
        staff = dpytest_backend.make_text_channel("staff", guild)
        await harness.slash("tournament create", member=olga, options={"name": TOURNAMENT},
                            category="alttpr", staff_channel=staff)
        if template:
            await services.seeds.configure(
                actor_of_user(olga), guild.id, TOURNAMENT, provider="template",
                template=TEMPLATE, presets=("standard", "hard"), default_preset="standard",
            )
        match = await services.matches.schedule(
            guild.id, TOURNAMENT, [ada.id, bob.id],
            datetime.now(UTC).replace(microsecond=0) + timedelta(days=1), "Final",
            actor=actor_of_user(olga),
        )
        preview = await harness.slash("open-room", member=olga, match=str(match.id))
        await harness.press(preview.first, "Confirm", member=olga)
        await harness.notifications_settled()
        [slug] = [race.slug for race in fake.races.values() if race.category.slug == "alttpr"]
        for name in ("RacerOne", "RacerTwo"):
            await fake.racer(slug, users[name]).accept_invite()
        scene = RoomScene(harness, fake, slug, match.id, staff, ada, bob, olga)
        await settle(scene, lambda: True)
        harness.sim.sent()  # what came before the scene: scheduled, room opened
        yield scene
