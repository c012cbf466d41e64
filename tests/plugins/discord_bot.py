"""A RaceDesk bot under dpytest, with every cog loaded, and a way to run slash commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
import pytest

from bot import RaceDeskBot, build_services
from core.config import RacetimeSettings
from core.lifecycle import Lifecycle
from core.services.container import Services
from db.secrets import SecretBox
from tests.plugins.racetime_engine import FAST_RETRY
from tests.plugins.slash import SlashResult, invoke_slash

# An owner id no test member has: with owner ids set, discord.py never asks Discord who
# the owner is (dpytest cannot answer that).
NOBODY = 1


@dataclass
class DiscordHarness:
    bot: RaceDeskBot
    services: Services

    @property
    def guild(self) -> discord.Guild:
        return dpytest.get_config().guilds[0]

    @property
    def channel(self) -> discord.TextChannel:
        return dpytest.get_config().channels[0]  # type: ignore[return-value]

    @property
    def members(self) -> list[discord.Member]:
        return dpytest.get_config().members

    def member(self, index: int = 0) -> discord.Member:
        return self.members[index]

    async def member_with_permissions(self, index: int, **permissions: bool) -> discord.Member:
        """Member ``index`` with a new role granting ``permissions`` (e.g. manage_guild=True)."""
        member = self.member(index)
        value = discord.Permissions(**permissions).value
        role = dpytest_backend.make_role(f"perms-{value}", self.guild, permissions=value)
        await dpytest.add_role(member, role)
        return self.guild.get_member(member.id) or member

    def make_owner(self, member: discord.abc.User) -> None:
        self.bot.owner_ids = {NOBODY, member.id}

    async def slash(
        self,
        name: str,
        *,
        member: discord.Member | discord.User | None = None,
        in_dm: bool = False,
        **options: Any,
    ) -> SlashResult:
        """Run ``/name`` through the real CommandTree and return the bot's replies."""
        who = member or self.member(0)
        channel = None if in_dm else self.channel
        return await invoke_slash(self.bot, name, member=who, channel=channel, **options)


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
    # dpytest only hands out members it can cache, which takes the members intent.
    intents = discord.Intents.default()
    intents.members = True
    bot = RaceDeskBot(services, intents=intents, owner_ids=[NOBODY])
    await bot._async_setup_hook()  # dpytest's documented set-up for discord.py 2
    dpytest.configure(bot, guilds=1, text_channels=1, voice_channels=0, members=3)
    # What Discord's READY would set, which dpytest's fresh connection state leaves out.
    state = bot._connection
    state.application_id = bot.user.id
    state._command_tree = bot.tree
    await bot.load_cogs()
    try:
        yield DiscordHarness(bot=bot, services=services)
    finally:
        await dpytest.empty_queue()
        for cog in list(bot.cogs):
            await bot.remove_cog(cog)
        await lifecycle.close()


@pytest.fixture
async def discord_harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        yield harness
