"""``/timezone``: the zone RaceDesk reads the times you type in (a date and time without a
zone), and the server's default for everyone who has not chosen one.

Discord timestamps already show every reader their own time; a zone is needed only for
times typed as a plain date and time. The rules live in ``core.accounts.timezones``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.choices import choices
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.replies import reply
from core.access import AccessPolicy, Permission
from core.accounts.timezones import TimezoneService, suggest_zones
from core.clock import Clock
from core.times.formatting import local_text, plain_text
from core.times.parsing import discord_timestamp, example_time

if TYPE_CHECKING:
    from bot import RaceDeskBot


@app_commands.guild_only()
class TimezoneCog(ServerOnly, commands.GroupCog, group_name="timezone"):
    """Which timezone RaceDesk reads your typed times in."""

    def __init__(
        self, timezones: TimezoneService, access: AccessPolicy, clock: Clock
    ) -> None:
        self._timezones = timezones
        self.access = access
        self._clock = clock
        super().__init__()


    async def zone_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return choices((name, name) for name in suggest_zones(current))

    def _now(self) -> datetime:
        return self._clock.now()

    @app_commands.command(name="set")
    @app_commands.describe(zone="An IANA timezone such as Europe/Berlin or America/New_York")
    async def set_(self, interaction: discord.Interaction, zone: str) -> None:
        """Set the timezone your typed times are read in."""
        parsed = await self._timezones.set_user_timezone(interaction.user.id, zone)
        now = self._now()
        await reply(
            interaction,
            f"Your timezone is now **{parsed.key}**: it is {local_text(now, parsed)} there. "
            f"Times you type as `{plain_text(example_time(now, parsed), parsed)}` are read in "
            "it, in every server.",
        )

    set_.autocomplete("zone")(zone_choices)

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show the timezone your typed times are read in, and the server's default."""
        assert interaction.guild is not None
        own = await self._timezones.user_timezone(interaction.user.id)
        server = await self._timezones.server_timezone(interaction.guild.id)
        used = await self._timezones.timezone_for(interaction.user.id, interaction.guild.id)
        now = self._now()
        mine = f"**{own}**" if own else "not set (`/timezone set` chooses one)"
        await reply(
            interaction,
            f"Your timezone: {mine}\n"
            f"This server's default: **{server}**\n"
            f"Your typed times are read in **{used.key}**, where it is now "
            f"{local_text(now, used)}; that is {discord_timestamp(now, 'f')} for you.",
        )

    @requires(Permission.CONFIGURE_SERVER)
    @app_commands.command(name="server")
    @app_commands.describe(zone="An IANA timezone such as Europe/Berlin; UTC is the default")
    async def server(self, interaction: discord.Interaction, zone: str) -> None:
        """Set the server's default timezone for members who have not set their own."""
        assert interaction.guild is not None
        parsed = await self._timezones.set_server_timezone(
            interaction.guild.id, zone, actor=actor_of(interaction)
        )
        await reply(
            interaction,
            f"{interaction.guild.name}'s default timezone is now **{parsed.key}** (it is "
            f"{local_text(self._now(), parsed)} there). Members who have not run "
            "`/timezone set` have their typed times read in it.",
        )

    server.autocomplete("zone")(zone_choices)


async def setup(bot: RaceDeskBot) -> None:
    services = bot.services
    await bot.add_cog(TimezoneCog(services.timezones, services.access, services.clock))
