"""A slash option for a moment in time, parsed at the boundary: ``when: When`` gives the
command an aware UTC datetime, read in the invoking member's timezone when it is a plain date
and time (see ``core.times.parsing`` for the accepted formats). As it is typed, the
option suggests its reading in that zone, or the next evenings (``time_suggestions``)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import discord
from discord import app_commands

from cogs._shared.choices import choices
from core.container import Services
from core.times.parsing import TimeInputError

# Synced to Discord once, so no date here: the examples are computed per interaction (the
# suggestions, the error messages). At most 100 characters.
WHEN_HELP = (
    "When it starts: a date and time in your timezone (or ending in UTC or +01:00), or <t:…>"
)


class TimeOptionError(app_commands.TransformerError):
    """A time that could not be read. The tree's error funnel shows a ``TransformerError`` as
    its text, so this one's text is the parser's message, not discord.py's generic one."""

    def __init__(self, value: str, transformer: app_commands.Transformer, message: str) -> None:
        super().__init__(value, discord.AppCommandOptionType.string, transformer)
        self.args = (message,)
        self.message = message


def _services(interaction: discord.Interaction) -> Services:
    services = getattr(interaction.client, "services", None)
    if services is None:
        raise TypeError("When needs a client with .services (RaceDeskBot)")
    return cast(Services, services)


class WhenTransformer(app_commands.Transformer):
    """Reads the option with the application's ``TimezoneService`` (``bot.services``): a
    transformer is named in an annotation, before any service exists, so it cannot be
    handed one."""

    async def transform(self, interaction: discord.Interaction, value: str) -> datetime:
        try:
            return await _services(interaction).timezones.parse_time_for(
                value, interaction.user.id, interaction.guild_id
            )
        except TimeInputError as error:
            raise TimeOptionError(value, self, error.message) from None

    # (ignored below: discord.py types it for choices of any value)
    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction, value: str, /
    ) -> list[app_commands.Choice[str]]:
        found = await _services(interaction).timezones.suggest_times_for(
            str(value), interaction.user.id, interaction.guild_id
        )
        return choices((s.name, s.value) for s in found)


When = app_commands.Transform[datetime, WhenTransformer]
"""Use as an option's annotation: ``async def schedule(self, interaction, when: When)``."""
