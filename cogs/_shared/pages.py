"""A reply of several pages, turned with Previous and Next (a list too long for one message).

Only whoever asked may turn the pages; the buttons stop working (and show it) after
:data:`PAGE_TIMEOUT_SECONDS`, as the other views of RaceDesk do. Pages are built within
Discord's limits by :mod:`cogs._shared.fitting`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from cogs._shared.replies import reply

log = logging.getLogger(__name__)

PAGE_TIMEOUT_SECONDS = 300.0  # well inside the 15 minutes an interaction can be edited


@dataclass(frozen=True, slots=True)
class Page:
    content: str | None = None
    embeds: tuple[discord.Embed, ...] = ()


def text_pages(texts: Sequence[str]) -> list[Page]:
    return [Page(content=text) for text in texts]


def embed_pages_of(embeds: Sequence[discord.Embed]) -> list[Page]:
    return [Page(embeds=(embed,)) for embed in embeds]


class Pager(discord.ui.View):
    """Previous, the page number and Next under a reply."""

    def __init__(
        self, pages: Sequence[Page], opened: discord.Interaction, *, timeout: float
    ) -> None:
        super().__init__(timeout=timeout)
        self._pages = list(pages)
        self._opened = opened  # its token edits the reply when the buttons stop
        self._owner = opened.user
        self.index = 0
        self._show()

    @property
    def page(self) -> Page:
        return self._pages[self.index]

    def _show(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index == len(self._pages) - 1
        self.position.label = f"Page {self.index + 1} of {len(self._pages)}"

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self._owner.id:
            return True
        await interaction.response.send_message(
            f"These pages are {self._owner.display_name}'s: run the command yourself to turn "
            "your own.",
            ephemeral=True,
        )
        return False

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.index = min(max(self.index + step, 0), len(self._pages) - 1)
        self._show()
        page = self.page
        await interaction.response.edit_message(
            content=page.content, embeds=list(page.embeds), view=self
        )

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction, _: discord.ui.Button[Pager]
    ) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Page", style=discord.ButtonStyle.secondary, disabled=True)
    async def position(
        self, interaction: discord.Interaction, _: discord.ui.Button[Pager]
    ) -> None:
        """Shows where the reader is; never pressed."""

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary)
    async def next(
        self, interaction: discord.Interaction, _: discord.ui.Button[Pager]
    ) -> None:
        await self._turn(interaction, 1)

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        try:
            await self._opened.edit_original_response(view=self)
        except discord.HTTPException:
            log.debug("Could not stop the page buttons of %s", self._owner.id)


async def send_pages(
    interaction: discord.Interaction,
    pages: Sequence[Page],
    *,
    ephemeral: bool = True,
) -> None:
    """The first page, with the buttons to turn the others when there are more."""
    first = pages[0]
    view = None
    if len(pages) > 1:
        view = Pager(pages, interaction, timeout=PAGE_TIMEOUT_SECONDS)
    await reply(
        interaction, first.content, embeds=first.embeds, view=view, ephemeral=ephemeral
    )
