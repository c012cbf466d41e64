"""A preview with buttons that only the member who asked for it may press (``/open-room``,
``/match import``, ``/async start``)."""

from __future__ import annotations

from typing import ClassVar

import discord


class OwnedPreview(discord.ui.View):
    """Subclasses set ``_owner`` (the member who asked) and ``elsewhere``: what anyone else
    pressing its buttons is told to do instead."""

    elsewhere: ClassVar[str]
    _owner: discord.abc.User

    def _close(self) -> None:
        """Disable the buttons and stop listening: called before any await, so that a second
        press finds no view to answer it."""
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        self.stop()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self._owner.id:
            return True
        await interaction.response.send_message(
            f"This preview is {self._owner.display_name}'s. {self.elsewhere}", ephemeral=True
        )
        return False
