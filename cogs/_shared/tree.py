"""The one error funnel for every slash command."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from cogs._shared.answer_deadline import ACKNOWLEDGE_AFTER_SECONDS, answer_within_deadline
from cogs._shared.database_away import DATABASE_AWAY, database_away, is_outage
from cogs._shared.discord_limits import MESSAGE_CONTENT_MAX
from cogs._shared.fitting import fit_lines
from cogs._shared.permissions import may_complete
from cogs._shared.replies import reply
from core.errors import UserFacingError

log = logging.getLogger(__name__)

# Commands that answer without the database: /about shows that it is away.
WITHOUT_DATABASE = frozenset({"about"})

APOLOGY = "Something went wrong on our side while running that command. It has been logged."


# Discord's names for permissions whose API names differ from what users see.
PERMISSION_NAMES = {"manage_guild": "Manage Server", "administrator": "Administrator"}


def permission_name(permission: str) -> str:
    return PERMISSION_NAMES.get(permission, permission.replace("_", " ").title())


def describe_check_failure(error: app_commands.CheckFailure) -> str:
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server, not in DMs."
    if isinstance(error, app_commands.MissingPermissions):
        missing = ", ".join(permission_name(p) for p in error.missing_permissions)
        return f"You need the {missing} permission to use this command."
    if isinstance(error, app_commands.MissingAnyRole | app_commands.MissingRole):
        return "You don't have the role this command needs."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} seconds."
    return str(error) or "You can't use this command here."


async def answer_error(interaction: discord.Interaction, error: Exception) -> None:
    """Tell the user what went wrong: a :class:`UserFacingError`'s message, a check's
    refusal, or (logged with its traceback) a short apology. Commands and modals alike."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    command = interaction.command.qualified_name if interaction.command else "?"
    if isinstance(original, UserFacingError):
        message = original.message
    elif isinstance(original, app_commands.CheckFailure):
        message = describe_check_failure(original)
    elif isinstance(original, app_commands.TransformerError):
        message = str(original)
    elif await is_outage(interaction, original):
        log.warning("Command /%s for user %s: the database is away", command, interaction.user.id)
        message = DATABASE_AWAY
    else:
        log.error(
            "Command /%s failed for user %s in guild %s",
            command, interaction.user.id, interaction.guild_id,
            exc_info=original,
        )
        message = APOLOGY
    try:
        await reply(interaction, fit_lines(message.splitlines(), MESSAGE_CONTENT_MAX),
                    ephemeral=True)
    except discord.HTTPException:
        log.warning("Could not tell user %s that /%s failed", interaction.user.id, command)


class RaceDeskTree(app_commands.CommandTree):
    """Turns every command failure into a short ephemeral reply and a logged traceback, and
    offers a command's suggestions only to those the access policy lets run it. While the
    database is away every interaction is answered at once with what to do. A command that
    has not answered within ``acknowledge_after`` seconds is acknowledged for it
    (:mod:`cogs._shared.answer_deadline`)."""

    acknowledge_after: float | None = ACKNOWLEDGE_AFTER_SECONDS  # None: never

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        autocomplete = interaction.type is discord.InteractionType.autocomplete
        name = interaction.command.qualified_name if interaction.command else None
        if name not in WITHOUT_DATABASE and database_away(interaction):
            # Answered now, not after a connection timeout.
            if autocomplete:
                await interaction.response.autocomplete([])
            else:
                await reply(interaction, DATABASE_AWAY, ephemeral=True)
            return False
        if not autocomplete:
            if self.acknowledge_after is not None:
                answer_within_deadline(interaction, self.acknowledge_after)
            return True  # a command's own check asks the policy, and says who may
        if await may_complete(interaction):
            return True
        await interaction.response.autocomplete([])
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await answer_error(interaction, error)
