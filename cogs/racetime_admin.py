"""``/racetime``: admins see the category bots' health; owners add, start and stop them.

The racetime engine itself is started and stopped by the application's lifecycle
(``bot.py``), not by this cog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.permissions import (
    Audience,
    ModeratorRoles,
    ServerOnly,
    for_audience,
    is_guild_admin,
    moderators_only,
)
from cogs._shared.profile_embed import profile_embed
from cogs._shared.replies import reply
from core.services.profiles import ProfileService
from core.services.racetime_admin import (
    BotOverview,
    RacetimeAdminService,
    RacetimeOverview,
    normalise_category,
)
from db.models import BotStatus

if TYPE_CHECKING:
    from bot import RaceDeskBot

STATUS_ICONS = {
    BotStatus.UNKNOWN: "❔",
    BotStatus.CONNECTED: "🟢",
    BotStatus.AUTH_FAILED: "🔴",
    BotStatus.CONNECTION_ERROR: "🟠",
    BotStatus.DISCONNECTED: "⚫",
}
CANNOT_DECRYPT_NOTE = (
    "🔒 Cannot decrypt its client secret: was the secret key changed? "
    "See `python bot.py rotate-key`, or add the bot again with `/racetime add`."
)


def is_owner_check() -> app_commands.check:  # type: ignore[valid-type]
    async def predicate(interaction: discord.Interaction) -> bool:
        if await interaction.client.is_owner(interaction.user):  # type: ignore[attr-defined]
            return True
        raise app_commands.CheckFailure("Only the bot's owners can manage racetime bots.")

    return app_commands.check(predicate)


def admins_only() -> app_commands.check:  # type: ignore[valid-type]
    """Server admins (Manage Server) and bot owners; enforced here, not only in Discord."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if is_guild_admin(interaction.user):
            return True
        if await interaction.client.is_owner(interaction.user):  # type: ignore[attr-defined]
            return True
        raise app_commands.MissingPermissions(["manage_guild"])

    return app_commands.check(predicate)


# No default_permissions on the group: Discord would then hide all of it, `whois` included,
# from moderators without Manage Server. Each command carries its own check instead.
@app_commands.guild_only()
class RacetimeCog(ServerOnly, commands.GroupCog, group_name="racetime"):
    """Manage the racetime.gg category bots; look up members' racetime.gg links."""

    def __init__(
        self,
        admin: RacetimeAdminService,
        profiles: ProfileService,
        moderator_roles: ModeratorRoles,
    ) -> None:
        self._admin = admin
        self._profiles = profiles
        self.moderator_roles = moderator_roles
        super().__init__()

    @for_audience(Audience.MODERATOR)
    @moderators_only()
    @app_commands.command(name="whois")
    @app_commands.describe(member="The member whose racetime.gg account to show")
    async def whois(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Show which racetime.gg account a member has linked."""
        found = await self._profiles.profile_of(member.id, interaction.guild_id)
        await interaction.response.send_message(
            embed=profile_embed(member, found, details=True), ephemeral=True
        )

    @for_audience(Audience.ADMIN)
    @admins_only()
    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show every racetime category bot and its health."""
        overview = await self._admin.overview()
        await interaction.response.send_message(embed=status_embed(overview), ephemeral=True)

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @app_commands.command(name="add")
    @app_commands.describe(
        category="The category slug from its racetime.gg URL, e.g. alttpr",
        client_id="The bot's OAuth client id (racetime.gg category page → Bots)",
        client_secret="The bot's OAuth client secret; stored encrypted, never shown again",  # noqa: S106
        display_name="A name for this bot in RaceDesk",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        category: str,
        client_id: str,
        client_secret: str,
        display_name: str | None = None,
    ) -> None:
        """Add a racetime category bot and start it."""
        bot = await self._admin.add_bot(
            category=category,
            client_id=client_id,
            client_secret=client_secret,
            display_name=display_name,
            actor_discord_id=interaction.user.id,
            guild_id=interaction.guild_id,
        )
        await interaction.response.send_message(
            f"Added the `{bot.category}` bot and started it. "
            "Check `/racetime status` in a few seconds to see whether racetime accepted it.",
            ephemeral=True,
        )

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @app_commands.command(name="stop")
    @app_commands.describe(category="The category slug of the bot to stop")
    async def stop(self, interaction: discord.Interaction, category: str) -> None:
        """Stop a category bot until it is started again."""
        # Closing many rooms can outlast Discord's 3-second deadline for an answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        stopped = await self._admin.stop_bot(
            category, actor_discord_id=interaction.user.id, guild_id=interaction.guild_id
        )
        slug = normalise_category(category)
        message = (
            f"Stopped the `{slug}` bot. It stays stopped, also after a restart, "
            "until `/racetime start`."
            if stopped
            else f"The `{slug}` bot is already stopped. `/racetime start` starts it."
        )
        await reply(interaction, message)

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @app_commands.command(name="start")
    @app_commands.describe(category="The category slug of the bot to start")
    async def start(self, interaction: discord.Interaction, category: str) -> None:
        """Start (or restart) a category bot."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = await self._admin.start_bot(
            category, actor_discord_id=interaction.user.id, guild_id=interaction.guild_id
        )
        await reply(
            interaction,
            f"Started the `{bot.category}` bot. "
            "Check `/racetime status` in a few seconds to see whether it connected.",
        )


def status_embed(overview: RacetimeOverview) -> discord.Embed:
    embed = discord.Embed(title="racetime.gg bots", colour=discord.Colour.blurple())
    if not overview.bots:
        embed.description = "No racetime bots yet. A bot owner can add one: `/racetime add`."
    for row in overview.bots:
        embed.add_field(
            name=f"{row.bot.display_name} (`{row.bot.category}`)",
            value="\n".join(bot_lines(row)),
            inline=False,
        )
    parked = overview.deliveries_parked
    embed.set_footer(
        text=f"Events waiting for delivery: {overview.events_pending}. "
        + (
            f"Deliveries parked after repeated listener failures: {parked} (see the logs)."
            if parked
            else "No parked deliveries."
        )
    )
    return embed


def bot_lines(row: BotOverview) -> list[str]:
    """One bot's field in ``/racetime status``."""
    bot = row.bot
    status = BotStatus(bot.status)
    lines = [
        f"{STATUS_ICONS[status]} **{status.name.replace('_', ' ').title()}**"
        + (f": {bot.status_message}" if bot.status_message else ""),
        f"Running: {'yes' if row.running else 'no'}; rooms watched: {row.rooms_watched}",
    ]
    if row.stopped_by_owner:
        lines.append("Stopped by an owner: stays stopped until `/racetime start`.")
    if not row.secret_readable:
        lines.append(CANNOT_DECRYPT_NOTE)
    if bot.last_connected_at:
        lines.append(f"Last connected <t:{int(bot.last_connected_at.timestamp())}:R>")
    return lines


async def setup(bot: RaceDeskBot) -> None:
    services = bot.services
    await bot.add_cog(
        RacetimeCog(services.racetime_admin, services.profiles, services.tournaments)
    )
