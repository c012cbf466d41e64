"""Suggestions for a ``tournament`` option, shared by ``/tournament``, ``/match``, ``/async``
and ``/liverace``: each cog names the service whose tournaments its option takes."""

from __future__ import annotations

from typing import Protocol

import discord
from discord import app_commands

from cogs._shared.choices import choices


class TournamentNames(Protocol):
    """A service that suggests a server's tournament names (regular or async)."""

    async def suggest_names(self, guild_id: int, typed: str) -> list[str]: ...


class TournamentChoices:
    """A cog whose ``tournament_names`` suggests the names its ``tournament`` options take
    (a method, so discord.py passes the cog to it)."""

    tournament_names: TournamentNames

    async def tournament_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        names = await self.tournament_names.suggest_names(interaction.guild_id, current)
        return choices((name, name) for name in names)


tournament_choices = TournamentChoices.tournament_choices
