"""``/profile``: what RaceDesk knows of a player: their racetime.gg link and timezone."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.accounts.profile_embed import profile_embed
from core.accounts.profiles import ProfileService

if TYPE_CHECKING:
    from bot import RaceDeskBot


class ProfileCog(commands.Cog):
    def __init__(self, profiles: ProfileService) -> None:
        self._profiles = profiles

    @app_commands.command(name="profile")
    @app_commands.describe(member="Whose profile to show, e.g. an opponent's; yours if left out")
    async def profile(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        """Show your (or a member's) racetime.gg link and timezone."""
        whom = member or interaction.user
        found = await self._profiles.profile_of(whom.id, interaction.guild_id)
        await interaction.response.send_message(
            embed=profile_embed(whom, found), ephemeral=True
        )


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(ProfileCog(bot.services.profiles))
