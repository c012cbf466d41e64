"""``/open-room``: a moderator previews a match's racetime room and opens it with Confirm.

Finding the match in the server, the moderator's user id and opening the room exactly once
live in ``core.rooms.open_room``; this cog checks who asks, renders and owns the buttons.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.choices import choices
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.previews import OwnedPreview
from cogs._shared.replies import reply
from cogs._shared.rooms.open_room_embeds import opening_text, preview_embed
from cogs._shared.tree import APOLOGY
from core.access import AccessPolicy, Permission
from core.errors import UserFacingError
from core.rooms.open_room import OpenRoomPreview, OpenRoomService
from core.tournaments.matches import match_id_from

if TYPE_CHECKING:
    from bot import RaceDeskBot

log = logging.getLogger(__name__)

PREVIEW_TIMEOUT_SECONDS = 300.0  # well inside the 15 minutes an interaction can be edited
MATCH_HELP = "The match: pick one from the suggestions, or give its number"


class OpenRoomView(OwnedPreview):
    """Confirm and Cancel under a preview; only the moderator who asked may press them, and
    they stop working once pressed or after the timeout."""

    elsewhere = "Moderators can run `/open-room` themselves."

    def __init__(
        self,
        service: OpenRoomService,
        opened: discord.Interaction,
        shown: OpenRoomPreview,
        *,
        timeout: float,
    ) -> None:
        super().__init__(timeout=timeout)
        assert opened.guild_id is not None
        self._service = service
        self._opened = opened  # its token edits the preview when it times out
        self._owner = opened.user
        self._guild_id = opened.guild_id
        self._shown = shown
        self.confirm.disabled = not shown.can_open

    def embed(self, *, closed: bool = False) -> discord.Embed:
        if closed:
            footer = "This preview has closed; nothing was opened. /open-room shows it again."
        else:
            minutes = max(1, round((self.timeout or 0) / 60))
            footer = (
                "Only you can see and press this; "
                f"it closes after {minutes} minute{'s' if minutes != 1 else ''}."
            )
        return preview_embed(self._shown, footer=footer)

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success)
    async def confirm(
        self, interaction: discord.Interaction, _: discord.ui.Button[OpenRoomView]
    ) -> None:
        self._close()  # before any await: a second press finds no view to answer it
        match_id = self._shown.room.match_id
        await interaction.response.edit_message(
            content=f"Opening the room of match #{match_id}…", embed=None, view=None
        )
        try:
            opening = await self._service.open(
                self._guild_id, match_id, actor=actor_of(interaction)
            )
        except UserFacingError as error:
            text = error.message
        else:
            text = opening_text(opening)
        await interaction.edit_original_response(content=text)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction, _: discord.ui.Button[OpenRoomView]
    ) -> None:
        self._close()
        await interaction.response.edit_message(
            content=f"Nothing opened: match #{self._shown.room.match_id} keeps no room for now. "
            "`/open-room` shows it again.",
            embed=None,
            view=None,
        )

    async def on_timeout(self) -> None:
        self._close()
        try:
            await self._opened.edit_original_response(embed=self.embed(closed=True), view=self)
        except discord.HTTPException:
            log.debug("Could not close the /open-room preview of %s", self._owner.id)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        log.error(
            "/open-room button failed for user %s in guild %s",
            interaction.user.id, interaction.guild_id, exc_info=error,
        )
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=APOLOGY, embed=None, view=None)
            else:
                await reply(interaction, APOLOGY, ephemeral=True)
        except discord.HTTPException:
            log.warning("Could not tell user %s that a button failed", interaction.user.id)


class OpenRoomCog(ServerOnly, commands.Cog):
    """Open a match's racetime room by hand (moderators)."""

    def __init__(
        self,
        service: OpenRoomService,
        access: AccessPolicy,
        *,
        preview_timeout: float = PREVIEW_TIMEOUT_SECONDS,
    ) -> None:
        self._service = service
        self.access = access
        self.preview_timeout = preview_timeout


    async def match_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Matches still to be played that have no room yet."""
        if interaction.guild_id is None:
            return []
        found = await self._service.suggest(
            interaction.guild_id, current, actor=actor_of(interaction)
        )
        return choices((label, str(match_id)) for match_id, label in found)

    @requires(Permission.OPEN_ROOMS)
    @app_commands.command(name="open-room")
    @app_commands.guild_only()
    @app_commands.describe(match=MATCH_HELP)
    async def open_room(self, interaction: discord.Interaction, match: str) -> None:
        """Preview a match's racetime room, then open it with Confirm."""
        assert interaction.guild_id is not None
        shown = await self._service.preview(
            interaction.guild_id, match_id_from(match), actor=actor_of(interaction)
        )
        view = OpenRoomView(self._service, interaction, shown, timeout=self.preview_timeout)
        await interaction.response.send_message(embed=view.embed(), view=view, ephemeral=True)

    open_room.autocomplete("match")(match_choices)


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(OpenRoomCog(bot.services.open_room, bot.services.access))
