"""The Discord side of ``core.access.members``: what a person is in a server, asked by the
ways in that carry no interaction (a command typed in a racetime.gg room)."""

from __future__ import annotations

import logging

import discord

from cogs._shared.permissions import actor_of_user
from core.access import Actor

log = logging.getLogger(__name__)


class DiscordMembers:
    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def member(self, guild_id: int, discord_id: int) -> Actor | None:
        guild = self._client.get_guild(guild_id)
        if guild is None:
            return None
        found = guild.get_member(discord_id)
        if found is None:
            try:
                found = await guild.fetch_member(discord_id)
            except discord.NotFound:
                return None
            except discord.HTTPException as error:
                # Discord cannot say now: the person gets what needs no server role.
                log.warning("Could not look up a member of server %s: %s", guild_id, error)
                return None
        return actor_of_user(found)
