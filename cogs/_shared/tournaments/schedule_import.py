"""How ``/match import`` looks: the preview an organizer confirms (what each line would do,
and why a line is refused), its Confirm and Cancel buttons, and what Confirm did.

The plan and its rules live in ``core.tournaments.imports``; this module renders it within
Discord's limits (the lines that need a look first, then "… and N more") and owns the buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import discord

from cogs._shared.discord_limits import EMBED_DESCRIPTION_MAX
from cogs._shared.fitting import and_more, clip, fit_lines
from cogs._shared.permissions import actor_of
from cogs._shared.previews import OwnedPreview
from cogs._shared.replies import reply
from cogs._shared.tree import APOLOGY
from core.errors import UserFacingError
from core.tournaments.imports import (
    ImportPlan,
    MemberNames,
    Outcome,
    PlannedLine,
    ScheduleImports,
    ScheduleLine,
)

log = logging.getLogger(__name__)

PREVIEW_TIMEOUT_SECONDS = 600.0  # well inside the 15 minutes an interaction can be edited
LINE_MAX = 300  # one line of the preview
SUMMARY_ROOM = 300  # the counts above the lines
# What each outcome says, and the order the preview shows them in (what needs a look first).
SHOWN = {
    Outcome.REFUSED: "✗ refused",
    Outcome.CREATE: "+ new",
    Outcome.UPDATE: "✎ update",
    Outcome.SKIPPED: "· skipped",
    Outcome.UNCHANGED: "= unchanged",
}
DONE = {Outcome.CREATE: "created", Outcome.UPDATE: "updated"}


def summary(plan: ImportPlan, *, done: bool = False) -> str:
    words = {
        Outcome.CREATE: "created" if done else "to create",
        Outcome.UPDATE: "updated" if done else "to update",
        Outcome.UNCHANGED: "unchanged",
        Outcome.SKIPPED: "repeated (skipped)",
        Outcome.REFUSED: "refused",
    }
    parts = [f"{plan.count(outcome)} {word}" for outcome, word in words.items()
             if plan.count(outcome)]
    return ", ".join(parts) or "nothing"


def line_text(line: PlannedLine, *, done: bool = False) -> str:
    label = DONE.get(line.outcome, SHOWN[line.outcome]) if done else SHOWN[line.outcome]
    if done and line.match_id is not None and line.outcome in DONE:
        label += f" #{line.match_id}"
    text = f"`{line.line:>3}` {label}: {line.summary}"
    if line.why and line.outcome is not Outcome.UNCHANGED:
        text += f" — {line.why}"
    return clip(text, LINE_MAX)


def plan_embed(plan: ImportPlan, *, title: str, footer: str, done: bool = False) -> discord.Embed:
    order = list(SHOWN)
    lines = sorted(plan.lines, key=lambda line: (order.index(line.outcome), line.line))
    head = f"**{summary(plan, done=done)}**"
    body = fit_lines(
        [line_text(line, done=done) for line in lines],
        EMBED_DESCRIPTION_MAX - len(head) - 2,
        more=and_more("fix the file and import it again to see them"),
    )
    embed = discord.Embed(title=clip(title, 256), description=f"{head}\n\n{body}")
    embed.set_footer(text=footer)
    return embed


class ImportView(OwnedPreview):
    """Confirm and Cancel under an import's preview; only the organizer who asked may press
    them, and they stop working once pressed or after the timeout."""

    elsewhere = "Organizers can run `/match import` themselves."

    def __init__(
        self,
        imports: ScheduleImports,
        asked: discord.Interaction,
        lines: Sequence[ScheduleLine],
        shown: ImportPlan,
        *,
        tournament: str | None,
        members: MemberNames,
        filename: str,
        timeout: float = PREVIEW_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(timeout=timeout)
        assert asked.guild_id is not None
        self._imports = imports
        self._asked = asked
        self._owner = asked.user
        self._guild_id = asked.guild_id
        self._lines = lines
        self._shown = shown
        self._tournament = tournament
        self._members = members
        self._filename = filename
        self.confirm.disabled = shown.changes == 0

    def embed(self, *, closed: bool = False) -> discord.Embed:
        if closed:
            footer = "This preview has closed; nothing was imported."
        elif self._shown.changes == 0:
            footer = "Nothing to import: every line is unchanged, repeated or refused."
        else:
            footer = "Confirm imports the new and updated matches; refused lines are left out."
        return plan_embed(self._shown, title=f"Import {self._filename}: preview", footer=footer)

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success)
    async def confirm(
        self, interaction: discord.Interaction, _: discord.ui.Button[ImportView]
    ) -> None:
        self._close()  # before any await: a second press finds no view to answer it
        await interaction.response.edit_message(
            content=f"Importing {self._shown.changes} matches…", embed=None, view=None
        )
        try:
            done = await self._imports.apply(
                self._guild_id, self._lines, self._shown, actor=actor_of(interaction),
                tournament=self._tournament, members=self._members,
            )
        except UserFacingError as error:
            await interaction.edit_original_response(content=error.message)
            return
        embed = plan_embed(
            done, title=f"Imported {self._filename}", done=True,
            footer="The players are told by DM. Import the file again after fixing it: "
            "what is already imported stays as it is.",
        )
        await interaction.edit_original_response(content=None, embed=embed)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction, _: discord.ui.Button[ImportView]
    ) -> None:
        self._close()
        await interaction.response.edit_message(
            content="Nothing imported. `/match import` shows a new preview.",
            embed=None, view=None,
        )

    async def on_timeout(self) -> None:
        self._close()
        try:
            await self._asked.edit_original_response(embed=self.embed(closed=True), view=self)
        except discord.HTTPException:
            log.debug("Could not close the /match import preview of %s", self._owner.id)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        log.error(
            "/match import button failed for user %s in guild %s",
            interaction.user.id, interaction.guild_id, exc_info=error,
        )
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=APOLOGY, embed=None, view=None)
            else:
                await reply(interaction, APOLOGY, ephemeral=True)
        except discord.HTTPException:
            log.warning("Could not tell user %s that a button failed", interaction.user.id)
