"""``/racetime``: the category bots' health for admins and organizers; bot owners manage them.

Credentials arrive through a modal (:class:`CredentialsModal`), never as options. The racetime
engine itself is started and stopped by the application's lifecycle (``bot.py``), not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.accounts.profile_embed import profile_embed
from cogs._shared.answer_deadline import ANSWERS_WITH_FORM
from cogs._shared.pages import Page, send_pages
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.racetime_bots.credentials_modal import CredentialsModal
from cogs._shared.racetime_bots.embeds import (
    bot_list_pages,
    history_embed,
    outcome_text,
    status_embed,
)
from cogs._shared.replies import reply
from core.access import AccessPolicy, Permission
from core.accounts.profiles import ProfileService
from core.errors import UserFacingError
from core.racetime_bots.admin import RacetimeAdminService
from core.racetime_bots.category_slug import normalise_category

if TYPE_CHECKING:
    from bot import RaceDeskBot

EVERY_SERVER_HELP = "Bot owners: every server's bots and rooms, not only this server's"


def server_of(interaction: discord.Interaction, server_id: str | None) -> int:
    """The server a command acts on: ``server_id`` when given, else this one."""
    if server_id is None:
        assert interaction.guild_id is not None
        return interaction.guild_id
    if not server_id.strip().isdigit():
        raise UserFacingError("The server id is a number (Discord: right-click the server → "
                              "Copy Server ID).")
    return int(server_id.strip())


# Nothing here is for every member, so Discord hides /racetime from members without Manage
# Server (bot.py derives it from the permissions below); each command still asks the policy.
@app_commands.guild_only()
class RacetimeCog(ServerOnly, commands.GroupCog, group_name="racetime"):
    """Manage the racetime.gg category bots; look up members' racetime.gg links."""

    bots_group = app_commands.Group(name="bot", description="The racetime.gg category bots")
    alerts_group = app_commands.Group(name="alerts", description="Where racetime bot alerts go")

    def __init__(
        self,
        admin: RacetimeAdminService,
        profiles: ProfileService,
        access: AccessPolicy,
    ) -> None:
        self._admin = admin
        self._profiles = profiles
        self.access = access
        super().__init__()

    @requires(Permission.LOOK_UP_ACCOUNTS)
    @app_commands.command(name="whois")
    @app_commands.describe(member="The member whose racetime.gg account to show")
    async def whois(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Show which racetime.gg account a member has linked."""
        assert interaction.guild_id is not None
        found = await self._profiles.whois(
            member.id, interaction.guild_id, actor=actor_of(interaction)
        )
        await interaction.response.send_message(
            embed=profile_embed(member, found, details=True), ephemeral=True
        )

    @requires(Permission.VIEW_RACETIME_STATUS)
    @app_commands.command(name="status")
    @app_commands.describe(every_server=EVERY_SERVER_HELP)
    async def status(self, interaction: discord.Interaction, every_server: bool = False) -> None:
        """Show the racetime health: bots by state, rooms connected and in trouble."""
        assert interaction.guild_id is not None
        overview = await self._admin.overview(
            actor_of(interaction), interaction.guild_id, every_server=every_server
        )
        await interaction.response.send_message(embed=status_embed(overview), ephemeral=True)

    # -- /racetime alerts ------------------------------------------------------------------

    @requires(Permission.CONFIGURE_ALERTS)
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
            actor=actor_of(interaction),
        )
        if channel is None:
            await reply(interaction, "Cleared the alerts channel: racetime alerts about this "
                                     "server's bots now go to the bot owners by DM.")
            return
        await reply(interaction, f"racetime alerts about this server's bots now go to "
                                 f"#{channel.name}, once per problem and once when it is over.")

    # -- /racetime bot: owners ---------------------------------------------------------------

    @requires(Permission.MANAGE_RACETIME_BOTS)
    @bots_group.command(name="add", extras={ANSWERS_WITH_FORM: True})
    @app_commands.describe(
        category="The category slug from its racetime.gg URL, e.g. alttpr",
        name="A name for this bot in RaceDesk",
    )
    async def add(
        self, interaction: discord.Interaction, category: str, name: str | None = None
    ) -> None:
        """Add a racetime category bot (its credentials go in a form) and start it."""
        slug = await self._admin.check_can_add(category, actor=actor_of(interaction))

        async def submit(submitted: discord.Interaction, client_id: str, secret: str) -> None:
            outcome = await self._admin.add_bot(
                category=slug, client_id=client_id, client_secret=secret, display_name=name,
                actor=actor_of(submitted), guild_id=submitted.guild_id,
            )
            await reply(submitted, outcome_text("Added", outcome))

        await interaction.response.send_modal(
            CredentialsModal(
                f"racetime bot {slug}: credentials", submit, user_id=interaction.user.id
            )
        )

    @requires(Permission.MANAGE_RACETIME_BOTS)
    @bots_group.command(name="edit", extras={ANSWERS_WITH_FORM: True})
    @app_commands.describe(category="The category slug of the bot")
    async def edit(self, interaction: discord.Interaction, category: str) -> None:
        """Give a racetime category bot new credentials (in a form) and restart it."""
        slug = await self._admin.check_exists(category, actor=actor_of(interaction))

        async def submit(submitted: discord.Interaction, client_id: str, secret: str) -> None:
            outcome = await self._admin.edit_credentials(
                slug, client_id=client_id, client_secret=secret, actor=actor_of(submitted),
            )
            await reply(submitted, outcome_text("Updated the credentials of", outcome))

        await interaction.response.send_modal(
            CredentialsModal(
                f"racetime bot {slug}: new credentials", submit, user_id=interaction.user.id
            )
        )

    @requires(Permission.MANAGE_RACETIME_BOTS)
    @bots_group.command(name="remove")
    @app_commands.describe(category="The category slug of the bot to remove")
    async def remove(self, interaction: discord.Interaction, category: str) -> None:
        """Stop a racetime category bot and delete it with its credentials."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        slug = normalise_category(category)
        await self._admin.remove_bot(slug, actor=actor_of(interaction))
        await reply(interaction, f"Removed the `{slug}` bot and its credentials.")

    @requires(Permission.MANAGE_RACETIME_BOTS)
    @bots_group.command(name="start")
    @app_commands.describe(category="The category slug of the bot to start")
    async def start(self, interaction: discord.Interaction, category: str) -> None:
        """Start a category bot (it also starts after a restart of RaceDesk from now on)."""
        # Rejoining many rooms can outlast Discord's 3-second deadline for an answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self._admin.start_bot(category, actor=actor_of(interaction))
        await reply(interaction, outcome_text("Started", outcome))

    @requires(Permission.MANAGE_RACETIME_BOTS)
    @bots_group.command(name="restart")
    @app_commands.describe(category="The category slug of the bot to restart")
    async def restart(self, interaction: discord.Interaction, category: str) -> None:
        """Restart a category bot: a fresh token, every room rejoined."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self._admin.start_bot(
            category, actor=actor_of(interaction), action="racetime_bot.restarted"
        )
        await reply(interaction, outcome_text("Restarted", outcome))

    @requires(Permission.MANAGE_RACETIME_BOTS)
    @bots_group.command(name="stop")
    @app_commands.describe(category="The category slug of the bot to stop")
    async def stop(self, interaction: discord.Interaction, category: str) -> None:
        """Stop a category bot until it is started again."""
        # Closing many rooms can outlast Discord's 3-second deadline for an answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        stopped = await self._admin.stop_bot(category, actor=actor_of(interaction))
        slug = normalise_category(category)
        message = (
            f"Stopped the `{slug}` bot. It stays stopped, also after a restart, "
            "until `/racetime bot start`."
            if stopped
            else f"The `{slug}` bot is already stopped. `/racetime bot start` starts it."
        )
        await reply(interaction, message)

    @requires(Permission.MANAGE_RACETIME_BOTS)
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

    @requires(Permission.MANAGE_RACETIME_BOTS)
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
            slug, guild_id, actor=actor_of(interaction), assign=assign
        )
        where = "this server" if guild_id == interaction.guild_id else f"server {guild_id}"
        said = {
            (True, True): "now serves", (True, False): "already served",
            (False, True): "no longer serves", (False, False): "did not serve",
        }[assign, changed]
        await reply(interaction, f"The `{slug}` bot {said} {where}.")

    # -- /racetime bot: organizers -----------------------------------------------------------

    @requires(Permission.VIEW_RACETIME_BOTS)
    @bots_group.command(name="list")
    @app_commands.describe(every_server=EVERY_SERVER_HELP)
    async def list_bots(
        self, interaction: discord.Interaction, every_server: bool = False
    ) -> None:
        """List this server's racetime bots and their health (bot owners: every bot)."""
        assert interaction.guild_id is not None
        rows = await self._admin.bots_for(
            actor_of(interaction), interaction.guild_id, every_server=every_server
        )
        pages = bot_list_pages(rows, everything=every_server)
        await send_pages(interaction, [Page(embeds=tuple(embeds)) for embeds in pages])

    @requires(Permission.VIEW_RACETIME_BOTS)
    @bots_group.command(name="history")
    @app_commands.describe(category="The category slug of the bot")
    async def history(self, interaction: discord.Interaction, category: str) -> None:
        """Show a racetime bot's recent status changes."""
        assert interaction.guild_id is not None
        bot, changes = await self._admin.history(
            category, actor=actor_of(interaction), guild_id=interaction.guild_id
        )
        await interaction.response.send_message(
            embed=history_embed(bot, changes), ephemeral=True
        )


async def setup(bot: RaceDeskBot) -> None:
    services = bot.services
    await bot.add_cog(RacetimeCog(services.racetime_admin, services.profiles, services.access))
