"""A RaceDesk bot in a simulated Discord server (``rehearsal.guild``), with every cog loaded,
and a way to run slash commands through the real CommandTree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from bot import RaceDeskBot, build_services
from core.config import RacetimeSettings
from core.lifecycle import Lifecycle
from core.services.container import Services
from db.secrets import SecretBox
from rehearsal.guild import NOBODY, SimulatedGuild, member_intents
from rehearsal.slash import SlashResult
from tests.plugins.racetime_engine import FAST_RETRY


@dataclass
class DiscordHarness:
    bot: RaceDeskBot
    services: Services
    sim: SimulatedGuild

    @property
    def guild(self) -> discord.Guild:
        return self.sim.guild

    @property
    def channel(self) -> discord.TextChannel:
        return self.sim.channel

    @property
    def members(self) -> list[discord.Member]:
        return self.sim.members

    def member(self, index: int = 0) -> discord.Member:
        return self.sim.member(index)

    async def member_with_permissions(self, index: int, **permissions: bool) -> discord.Member:
        """Member ``index`` with a new role granting ``permissions`` (e.g. manage_guild=True)."""
        return await self.sim.grant(self.member(index), **permissions)

    def make_owner(self, member: discord.abc.User) -> None:
        self.sim.make_owner(member)

    async def slash(
        self,
        name: str,
        *,
        member: discord.Member | discord.User | None = None,
        in_dm: bool = False,
        **options: Any,
    ) -> SlashResult:
        """Run ``/name`` through the real CommandTree and return the bot's replies."""
        return await self.sim.slash(name, member=member or self.member(0), in_dm=in_dm, **options)


@asynccontextmanager
async def running_harness(
    db_url: str, secret_box: SecretBox, racetime: RacetimeSettings | None = None
) -> AsyncIterator[DiscordHarness]:
    """A bot under dpytest on ``db_url``; the racetime engine (not started) uses ``racetime``."""
    services = build_services(
        database_url=db_url, secret_box=secret_box, racetime=racetime, listener_retry=FAST_RETRY
    )
    lifecycle = Lifecycle()
    await services.start(lifecycle, racetime_engine=False)
    bot = RaceDeskBot(services, intents=member_intents(), owner_ids=[NOBODY])
    sim = SimulatedGuild(bot)
    await sim.start()
    try:
        yield DiscordHarness(bot=bot, services=services, sim=sim)
    finally:
        await sim.close()
        await lifecycle.close()


@pytest.fixture
async def discord_harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        yield harness
