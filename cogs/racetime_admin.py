"""``/racetime``: the category bots' health for admins and organizers; bot owners manage them.

Credentials arrive through a modal (:class:`CredentialsModal`), never as options. The racetime
engine itself is started and stopped by the application's lifecycle (``bot.py``), not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.credentials_modal import CredentialsModal
from cogs._shared.pages import Page, send_pages
from cogs._shared.permissions import (
    ORGANIZERS_ONLY,
    Audience,
    ModeratorRoles,
    ServerOnly,
    for_audience,
    is_guild_admin,
    is_organizer,
    moderators_only,
)
from cogs._shared.profile_embed import profile_embed
from cogs._shared.racetime_bot_embeds import (
    bot_list_pages,
    history_embed,
    outcome_text,
    status_embed,
)
from cogs._shared.replies import reply
from core.errors import UserFacingError
from core.services.profiles import ProfileService
from core.services.racetime_admin import RacetimeAdminService, normalise_category

if TYPE_CHECKING:
    from bot import RaceDeskBot

OWNERS_ONLY = "Only the bot's owners can manage racetime bots."


def is_bot_owner(interaction: discord.Interaction) -> bool:
    """One of ``[discord] owner_ids``, and only those: never the Discord application's owner
    by default, so who manages racetime bots is written in the config."""
    return interaction.user.id in (getattr(interaction.client, "owner_ids", None) or ())


def is_owner_check() -> app_commands.check:  # type: ignore[valid-type]
    async def predicate(interaction: discord.Interaction) -> bool:
        if is_bot_owner(interaction):
            return True
        raise app_commands.CheckFailure(OWNERS_ONLY)

    return app_commands.check(predicate)


def admins_only() -> app_commands.check:  # type: ignore[valid-type]
    """Server admins (Manage Server) and bot owners; enforced here, not only in Discord."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if is_guild_admin(interaction.user):
            return True
        if is_bot_owner(interaction):
            return True
        raise app_commands.MissingPermissions(["manage_guild"])

    return app_commands.check(predicate)


def organizers_or_owners() -> app_commands.check:  # type: ignore[valid-type]
    """The server's organizers (they see its bots) and bot owners (they see every bot)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if is_bot_owner(interaction):
            return True
        cog = getattr(interaction.command, "binding", None)
        if await is_organizer(interaction.user, cog.moderator_roles):  # type: ignore[union-attr]
            return True
        raise app_commands.CheckFailure(ORGANIZERS_ONLY)

    return app_commands.check(predicate)


def server_of(interaction: discord.Interaction, server_id: str | None) -> int:
    """The server a command acts on: ``server_id`` when given, else this one."""
    if server_id is None:
        assert interaction.guild_id is not None
        return interaction.guild_id
    if not server_id.strip().isdigit():
        raise UserFacingError("The server id is a number (Discord: right-click the server → "
                              "Copy Server ID).")
    return int(server_id.strip())


# No default_permissions on the group: Discord would then hide all of it, `whois` included,
# from moderators without Manage Server. Each command carries its own check instead.
@app_commands.guild_only()
class RacetimeCog(ServerOnly, commands.GroupCog, group_name="racetime"):
    """Manage the racetime.gg category bots; look up members' racetime.gg links."""

    bots_group = app_commands.Group(name="bot", description="The racetime.gg category bots")
    alerts_group = app_commands.Group(name="alerts", description="Where racetime bot alerts go")

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
        """Show the racetime health: bots by state, rooms connected and in trouble."""
        overview = await self._admin.overview()
        await interaction.response.send_message(embed=status_embed(overview), ephemeral=True)

    # -- /racetime alerts ------------------------------------------------------------------

    @for_audience(Audience.ADMIN)
    @admins_only()
    @alerts_group.command(name="channel")
    @app_commands.describe(
        channel="Where alerts about this server's racetime bots go; leave out to clear"
    )
    async def alerts_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """Set where alerts go when a racetime bot or room of this server is in trouble."""
        assert interaction.guild is not None
        await self._admin.set_alerts_channel(
            interaction.guild.id,
            channel.id if channel is not None else None,
            actor_discord_id=interaction.user.id,
        )
        if channel is None:
            await reply(interaction, "Cleared the alerts channel: racetime alerts about this "
                                     "server's bots now go to the bot owners by DM.")
            return
        await reply(interaction, f"racetime alerts about this server's bots now go to "
                                 f"#{channel.name}, once per problem and once when it is over.")

    # -- /racetime bot: owners ---------------------------------------------------------------

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @bots_group.command(name="add")
    @app_commands.describe(
        category="The category slug from its racetime.gg URL, e.g. alttpr",
        name="A name for this bot in RaceDesk",
    )
    async def add(
        self, interaction: discord.Interaction, category: str, name: str | None = None
    ) -> None:
        """Add a racetime category bot (its credentials go in a form) and start it."""
        slug = await self._admin.check_can_add(category)

        async def submit(submitted: discord.Interaction, client_id: str, secret: str) -> None:
            outcome = await self._admin.add_bot(
                category=slug, client_id=client_id, client_secret=secret, display_name=name,
                actor_discord_id=submitted.user.id, guild_id=submitted.guild_id,
            )
            await reply(submitted, outcome_text("Added", outcome))

        await interaction.response.send_modal(
            CredentialsModal(
                f"racetime bot {slug}: credentials", submit, user_id=interaction.user.id
            )
        )

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @bots_group.command(name="edit")
    @app_commands.describe(category="The category slug of the bot")
    async def edit(self, interaction: discord.Interaction, category: str) -> None:
        """Give a racetime category bot new credentials (in a form) and restart it."""
        slug = await self._admin.check_exists(category)

        async def submit(submitted: discord.Interaction, client_id: str, secret: str) -> None:
            outcome = await self._admin.edit_credentials(
                slug, client_id=client_id, client_secret=secret,
                actor_discord_id=submitted.user.id, guild_id=submitted.guild_id,
            )
            await reply(submitted, outcome_text("Updated the credentials of", outcome))

        await interaction.response.send_modal(
            CredentialsModal(
                f"racetime bot {slug}: new credentials", submit, user_id=interaction.user.id
            )
        )

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @bots_group.command(name="remove")
    @app_commands.describe(category="The category slug of the bot to remove")
    async def remove(self, interaction: discord.Interaction, category: str) -> None:
        """Stop a racetime category bot and delete it with its credentials."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        slug = normalise_category(category)
        await self._admin.remove_bot(
            slug, actor_discord_id=interaction.user.id, guild_id=interaction.guild_id
        )
        await reply(interaction, f"Removed the `{slug}` bot and its credentials.")

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @bots_group.command(name="start")
    @app_commands.describe(category="The category slug of the bot to start")
    async def start(self, interaction: discord.Interaction, category: str) -> None:
        """Start a category bot (it also starts after a restart of RaceDesk from now on)."""
        # Rejoining many rooms can outlast Discord's 3-second deadline for an answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self._admin.start_bot(
            category, actor_discord_id=interaction.user.id, guild_id=interaction.guild_id
        )
        await reply(interaction, outcome_text("Started", outcome))

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @bots_group.command(name="restart")
    @app_commands.describe(category="The category slug of the bot to restart")
    async def restart(self, interaction: discord.Interaction, category: str) -> None:
        """Restart a category bot: a fresh token, every room rejoined."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self._admin.start_bot(
            category, actor_discord_id=interaction.user.id, guild_id=interaction.guild_id,
            action="racetime_bot.restarted",
        )
        await reply(interaction, outcome_text("Restarted", outcome))

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @bots_group.command(name="stop")
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
            "until `/racetime bot start`."
            if stopped
            else f"The `{slug}` bot is already stopped. `/racetime bot start` starts it."
        )
        await reply(interaction, message)

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @bots_group.command(name="assign")
    @app_commands.describe(
        category="The category slug of the bot",
        server_id="The server's id; leave out for this server",
    )
    async def assign(
        self, interaction: discord.Interaction, category: str, server_id: str | None = None
    ) -> None:
        """Let a server use a racetime category bot (its organizers see it, get its alerts)."""
        await self._assignment(interaction, category, server_id, assign=True)

    @for_audience(Audience.OWNER)
    @is_owner_check()
    @bots_group.command(name="unassign")
    @app_commands.describe(
        category="The category slug of the bot",
        server_id="The server's id; leave out for this server",
    )
    async def unassign(
        self, interaction: discord.Interaction, category: str, server_id: str | None = None
    ) -> None:
        """Stop a racetime category bot serving a server."""
        await self._assignment(interaction, category, server_id, assign=False)

    async def _assignment(
        self,
        interaction: discord.Interaction,
        category: str,
        server_id: str | None,
        *,
        assign: bool,
    ) -> None:
        guild_id = server_of(interaction, server_id)
        slug = normalise_category(category)
        changed = await self._admin.assign(
            slug, guild_id, actor_discord_id=interaction.user.id, assign=assign
        )
        where = "this server" if guild_id == interaction.guild_id else f"server {guild_id}"
        said = {
            (True, True): "now serves", (True, False): "already served",
            (False, True): "no longer serves", (False, False): "did not serve",
        }[assign, changed]
        await reply(interaction, f"The `{slug}` bot {said} {where}.")

    # -- /racetime bot: organizers -----------------------------------------------------------

    @for_audience(Audience.ORGANIZER)
    @organizers_or_owners()
    @bots_group.command(name="list")
    async def list_bots(self, interaction: discord.Interaction) -> None:
        """List the racetime bots (this server's; every bot for bot owners) and their health."""
        everything = is_bot_owner(interaction)
        rows = await self._admin.list_bots(None if everything else interaction.guild_id)
        pages = bot_list_pages(rows, everything=everything)
        await send_pages(interaction, [Page(embeds=tuple(embeds)) for embeds in pages])

    @for_audience(Audience.ORGANIZER)
    @organizers_or_owners()
    @bots_group.command(name="history")
    @app_commands.describe(category="The category slug of the bot")
    async def history(self, interaction: discord.Interaction, category: str) -> None:
        """Show a racetime bot's recent status changes."""
        everything = is_bot_owner(interaction)
        bot, changes = await self._admin.history(
            category, guild_id=None if everything else interaction.guild_id
        )
        await interaction.response.send_message(
            embed=history_embed(bot, changes), ephemeral=True
        )


async def setup(bot: RaceDeskBot) -> None:
    services = bot.services
    await bot.add_cog(
        RacetimeCog(services.racetime_admin, services.profiles, services.tournaments)
    )
