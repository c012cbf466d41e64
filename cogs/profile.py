"""``/profile``: what RaceDesk knows of a player (their racetime.gg link and timezone), and
their own calendar feed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.accounts.profile_embed import profile_embed
from cogs._shared.calendars.feed_reply import feed_reply
from cogs._shared.permissions import actor_of
from cogs._shared.replies import reply
from core.accounts.profiles import ProfileService
from core.calendars import CalendarFeedService

if TYPE_CHECKING:
    from bot import RaceDeskBot


class ProfileCog(commands.GroupCog, group_name="profile"):
    """Your racetime.gg link, timezone and calendar."""

    def __init__(self, profiles: ProfileService, calendars: CalendarFeedService) -> None:
        self._profiles = profiles
        self._calendars = calendars
        super().__init__()

    @app_commands.command(name="show")
    @app_commands.describe(member="Whose profile to show, e.g. an opponent's; yours if left out")
    async def show(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        """Show your (or a member's) racetime.gg link and timezone."""
        whom = member or interaction.user
        found = await self._profiles.profile_of(whom.id, interaction.guild_id)
        await interaction.response.send_message(
            embed=profile_embed(whom, found), ephemeral=True
        )

    @app_commands.command(name="calendar")
    @app_commands.describe(
        reset="Replace your feed's address (the old one stops working), e.g. if it leaked"
    )
    async def calendar(self, interaction: discord.Interaction, reset: bool = False) -> None:
        """Get your private calendar feed (iCal) of every match you play."""
        link = await self._calendars.player_feed(actor=actor_of(interaction), reset=reset)
        text = feed_reply(
            link, what="every match you play", reset_command="/profile calendar reset:True"
        )
        await reply(interaction, text)


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(ProfileCog(bot.services.profiles, bot.services.calendars))
