"""``/api-token``: organizers create, list and revoke their server's HTTP API tokens.

Hashing, naming rules and the audit live in ``core.accounts.api_tokens``; this cog checks
who asks and renders. Every reply is ephemeral, and a token is shown once, at creation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.choices import choices
from cogs._shared.discord_limits import EMBED_DESCRIPTION_MAX
from cogs._shared.fitting import fit_lines
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.replies import reply
from core.access import AccessPolicy, Permission
from core.accounts.api_tokens import ApiTokenInfo, ApiTokenService
from core.times.parsing import discord_timestamp

if TYPE_CHECKING:
    from bot import RaceDeskBot

SHOWN_ONCE_WARNING = (
    "Copy it now: it is shown only this once, and RaceDesk keeps only a fingerprint of it. "
    "Keep it secret: anyone who has it can open this server's match rooms. If it leaks, "
    "revoke it with `/api-token revoke`."
)


def token_line(token: ApiTokenInfo) -> str:
    used = discord_timestamp(token.last_used_at, "R") if token.last_used_at else "never"
    return (
        f"**{token.name}** · created by <@{token.created_by_discord_id}> "
        f"{discord_timestamp(token.created_at, 'R')} · last used {used}"
    )


@app_commands.guild_only()
class ApiTokenCog(ServerOnly, commands.GroupCog, group_name="api-token"):
    """Tokens for this server's HTTP API."""

    def __init__(self, tokens: ApiTokenService, access: AccessPolicy) -> None:
        self._tokens = tokens
        self.access = access
        super().__init__()


    async def token_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        names = await self._tokens.suggest(
            interaction.guild_id, current, actor=actor_of(interaction)
        )
        return choices((name, name) for name in names)

    @requires(Permission.MANAGE_API_TOKENS)
    @app_commands.command(name="create")
    @app_commands.describe(name="Who or what uses the token, e.g. stream-overlay")
    async def create(self, interaction: discord.Interaction, name: str) -> None:
        """Create an API token for this server; it is shown once."""
        assert interaction.guild_id is not None
        created = await self._tokens.create(
            interaction.guild_id, name, actor=actor_of(interaction)
        )
        await reply(
            interaction,
            f"API token **{created.info.name}** created:\n```\n{created.plaintext}\n```\n"
            f"{SHOWN_ONCE_WARNING}\nUse it as `Authorization: Bearer <token>`.",
        )

    @requires(Permission.MANAGE_API_TOKENS)
    @app_commands.command(name="list")
    async def list_tokens(self, interaction: discord.Interaction) -> None:
        """List this server's API tokens (never the tokens themselves)."""
        assert interaction.guild_id is not None
        tokens = await self._tokens.list_tokens(interaction.guild_id, actor=actor_of(interaction))
        if not tokens:
            await reply(
                interaction, "This server has no API tokens. `/api-token create` makes one."
            )
            return
        embed = discord.Embed(
            title="API tokens",
            description=fit_lines([token_line(token) for token in tokens], EMBED_DESCRIPTION_MAX),
        )
        await reply(interaction, embed=embed)

    @requires(Permission.MANAGE_API_TOKENS)
    @app_commands.command(name="revoke")
    @app_commands.describe(name="The token to revoke: it stops working at once")
    async def revoke(self, interaction: discord.Interaction, name: str) -> None:
        """Revoke one of this server's API tokens."""
        assert interaction.guild_id is not None
        revoked = await self._tokens.revoke(
            interaction.guild_id, name, actor=actor_of(interaction)
        )
        await reply(
            interaction, f"API token **{revoked.name}** is revoked; it no longer works."
        )

    revoke.autocomplete("name")(token_choices)


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(ApiTokenCog(bot.services.api_tokens, bot.services.access))
