"""A Discord server simulated by dpytest's backend, with RaceDesk's real cogs and tree.

The bot is the real :class:`discord.Client` subclass with every cog loaded; only Discord's
side is simulated: the guild, its channels and members live in dpytest's fake state, slash
commands arrive as real ``INTERACTION_CREATE`` payloads (see :mod:`rehearsal.slash`), and what
the bot posts in channels or sends by DM is collected instead of leaving the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
from discord.ext import commands
from discord.ext.test import runner as dpytest_runner

from rehearsal.slash import SlashResult, invoke_slash

# An owner id no member has: with owner ids set, discord.py never asks Discord who the
# owner is (the simulation cannot answer that).
NOBODY = 1


def member_intents() -> discord.Intents:
    """dpytest only hands out members it can cache, which takes the members intent."""
    intents = discord.Intents.default()
    intents.members = True
    return intents


class SimulatedGuild:
    """One simulated server around ``bot``: ``await start()``, then act, then ``close()``."""

    def __init__(
        self,
        bot: commands.Bot,
        *,
        guild: str = "Test Guild 0",
        channels: Sequence[str] | int = 1,
        members: Sequence[str] | int = 3,
    ) -> None:
        self.bot = bot
        self._guild_name = guild
        self._channels = list(channels) if not isinstance(channels, int) else channels
        self._members = list(members) if not isinstance(members, int) else members

    async def start(self) -> None:
        """Configure the fake Discord state and load every cog (a failing cog fails here)."""
        bot = self.bot
        await bot._async_setup_hook()  # dpytest's documented set-up for discord.py 2
        dpytest.configure(
            bot,
            guilds=[self._guild_name],
            text_channels=self._channels,
            voice_channels=0,
            members=self._members,
        )
        # What Discord's READY would set, which dpytest's fresh connection state leaves out.
        state = bot._connection
        assert bot.user is not None
        state.application_id = bot.user.id
        state._command_tree = bot.tree
        await bot.load_cogs()  # type: ignore[attr-defined]

    async def close(self) -> None:
        await dpytest.empty_queue()
        for cog in list(self.bot.cogs):
            await self.bot.remove_cog(cog)

    # -- who and where -----------------------------------------------------------------------

    @property
    def guild(self) -> discord.Guild:
        return dpytest.get_config().guilds[0]

    @property
    def channel(self) -> discord.TextChannel:
        return dpytest.get_config().channels[0]  # type: ignore[return-value]

    @property
    def members(self) -> list[discord.Member]:
        return dpytest.get_config().members

    def member(self, key: int | str = 0) -> discord.Member:
        """A member by position or by display name."""
        if isinstance(key, int):
            return self.members[key]
        for member in self.members:
            if key in (member.name, member.display_name):
                return member
        raise LookupError(f"no simulated member called {key!r}")

    async def grant(self, member: discord.Member, **permissions: bool) -> discord.Member:
        """Give ``member`` a new role with ``permissions`` (e.g. ``manage_guild=True``)."""
        value = discord.Permissions(**permissions).value
        role = dpytest_backend.make_role(f"perms-{value}", self.guild, permissions=value)
        await dpytest.add_role(member, role)
        return self.guild.get_member(member.id) or member

    def make_owner(self, *members: discord.abc.User) -> None:
        """These members are the bot's owners (``[discord] owner_ids``)."""
        self.bot.owner_ids = {NOBODY, *(m.id for m in members)}

    # -- acting ------------------------------------------------------------------------------

    async def slash(
        self,
        name: str,
        *,
        member: discord.Member | discord.User,
        in_dm: bool = False,
        **options: Any,
    ) -> SlashResult:
        """Run ``/name`` as ``member`` through the real CommandTree; returns the replies."""
        channel = None if in_dm else self.channel
        return await invoke_slash(self.bot, name, member=member, channel=channel, **options)

    def sent(self) -> list[discord.Message]:
        """Messages the bot posted in channels or sent by DM since the last call."""
        messages = []
        queue = dpytest_runner.sent_queue
        while not queue.empty():
            messages.append(queue.get_nowait())
        return messages
