"""The modal that takes a racetime bot's client id and secret.

A slash-command option would keep the secret in the client's command history; a modal's
values go to RaceDesk alone. The values are handed to ``submit`` and never logged, echoed or
kept on the modal's repr (discord.py's ``TextInput`` repr leaves its value out).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from cogs._shared.discord_limits import MODAL_TITLE_MAX
from cogs._shared.fitting import clip
from cogs._shared.tree import answer_error

Submit = Callable[[discord.Interaction, str, str], Awaitable[None]]

CLIENT_ID_LABEL = "Client ID"
CLIENT_SECRET_LABEL = "Client secret"  # noqa: S105 - a label, not a secret
TIMEOUT_SECONDS = 600.0


class CredentialsModal(discord.ui.Modal):
    client_id: discord.ui.TextInput[CredentialsModal] = discord.ui.TextInput(
        label=CLIENT_ID_LABEL, max_length=255, placeholder="racetime.gg → category → Bots"
    )
    client_secret: discord.ui.TextInput[CredentialsModal] = discord.ui.TextInput(
        label=CLIENT_SECRET_LABEL, max_length=255, placeholder="stored encrypted, never shown"
    )

    def __init__(self, title: str, submit: Submit, *, user_id: int) -> None:
        super().__init__(title=clip(title, MODAL_TITLE_MAX), timeout=TIMEOUT_SECONDS)
        self._submit = submit
        self._user_id = user_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only whoever opened the form submits it (the command checked them)."""
        return interaction.user.id == self._user_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        # Starting the bot and hearing back from racetime can outlast Discord's 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._submit(interaction, self.client_id.value, self.client_secret.value)

    # discord.py's own Modal.on_error drops the item argument its BaseView declares.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception
    ) -> None:
        await answer_error(interaction, error)
