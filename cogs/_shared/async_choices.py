"""Suggestions of a server's async tournaments, shared by ``/async`` and ``/liverace``."""

from __future__ import annotations

import discord
from discord import app_commands

from core.services.async_tournaments import AsyncTournamentService


class AsyncTournamentChoices:
    """A cog whose ``asyncs`` service suggests async tournament names (a method, so
    discord.py passes the cog to it)."""

    asyncs: AsyncTournamentService

    async def tournament_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        names = await self.asyncs.suggest_names(interaction.guild_id, current)
        return [app_commands.Choice(name=name, value=name) for name in names]


tournament_choices = AsyncTournamentChoices.tournament_choices
