"""What ``/async start``, ``submit``, ``forfeit`` and ``seed`` show, and the Start / Cancel
buttons under a start's preview (only the player who asked may press them). A started run's
seed comes by DM with its Submit and Forfeit buttons (:mod:`.async_run_buttons`)."""

from __future__ import annotations

import logging
from typing import Any

import discord

from cogs._shared.fitting import clip
from cogs._shared.live_races.async_run_buttons import run_view
from cogs._shared.live_races.embeds import headed_pages
from cogs._shared.permissions import actor_of
from cogs._shared.previews import OwnedPreview
from cogs._shared.replies import reply
from cogs._shared.tree import APOLOGY
from core.errors import UserFacingError
from core.live_races.async_run_values import RunInfo, SeedInfo, StartPreview, written_duration
from core.live_races.async_runs import AsyncRunService
from core.live_races.async_seeds import GeneratedSeeds
from core.sending import nonce_for
from core.times.parsing import discord_timestamp

log = logging.getLogger(__name__)

PREVIEW_TIMEOUT_SECONDS = 300.0


def preview_text(shown: StartPreview) -> str:
    again = f" (attempt {shown.attempt})" if shown.attempt > 1 else ""
    return (
        f"**{shown.tournament}** · **{shown.pool}**: your next seed is seed {shown.position} "
        f"of {shown.seeds}{again}.\nPressing **Start** starts your timer and DMs you the seed: "
        f"you have {shown.limit_hours} hours to submit your time with a VOD (the DM's "
        "**Submit** button, or `/async submit`), or it is a forfeit. One attempt per seed. "
        "Only you can see and press this."
    )


def seed_text(run: RunInfo, *, buttons: bool) -> str:
    """The seed as the player gets it: by DM, with the Submit and Forfeit buttons
    (``buttons``), and in the answer."""
    par = f"\nPar time: {written_duration(run.par_time)}" if run.par_time else ""
    how = (
        "with **Submit** below (your time and a link to your VOD), or give up with **Forfeit**"
        if buttons else
        f"with the **Submit** button of my DM, or `/async submit tournament:{run.tournament} "
        "time:H:MM:SS vod:<link>` (or `/async forfeit`)"
    )
    return (
        f"**{run.tournament}** · **{run.pool}**, seed {run.position}: your run started "
        f"{discord_timestamp(run.started_at, 'R')}.\n{clip(run.seed, 1200)}{par}\n"
        f"Submit by {discord_timestamp(run.deadline_at, 'f')} {how}."
    )


def generated_text(generated: GeneratedSeeds) -> str:
    """What ``/async seed generate`` answers: the seeds' numbers (not their text: players may
    read over an organizer's shoulder; ``/async seed list`` shows them)."""
    added = generated.added
    numbers = (f"seed {added[0].position}" if len(added) == 1
               else f"seeds {added[0].position} to {added[-1].position}")
    par = f" (par {written_duration(added[0].par_time)})" if added[0].par_time else ""
    text = (f"Rolled {len(added)} `{generated.preset}` seed(s) into **{generated.pool}** of "
            f"**{generated.tournament}**: {numbers}{par}.")
    if generated.failure:
        text += (f"\nThe other {generated.asked - len(added)} were not rolled: "
                 f"{generated.failure}")
    return clip(text, 2000)


def seeds_pages(tournament: str, pool: str, seeds: list[SeedInfo]) -> list[str]:
    heading = f"**{tournament}** · **{pool}**"
    if not seeds:
        return [f"{heading}\nNo seeds yet: `/async seed add` adds one."]
    return headed_pages(heading, [
        f"{seed.position}. {clip(seed.seed, 300)}"
        + (f" · par {written_duration(seed.par_time)}" if seed.par_time else "")
        + f" · {seed.runs} run(s)"
        for seed in seeds
    ])


class StartRunView(OwnedPreview):
    """Start and Cancel under a start's preview; pressing either closes it."""

    elsewhere = "`/async start` shows your own next seed."

    def __init__(
        self, runs: AsyncRunService, opened: discord.Interaction, shown: StartPreview, *,
        timeout: float = PREVIEW_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(timeout=timeout)
        assert opened.guild_id is not None
        self._runs = runs
        self._opened = opened
        self._owner = opened.user
        self._guild_id = opened.guild_id
        self._shown = shown

    @discord.ui.button(label="Start", style=discord.ButtonStyle.success)
    async def start(
        self, interaction: discord.Interaction, _: discord.ui.Button[StartRunView]
    ) -> None:
        self._close()  # before any await: a second press finds no view to answer it
        await interaction.response.edit_message(content="Starting your run…", view=None)
        try:
            run = await self._runs.start(
                self._guild_id, self._shown, actor=actor_of(interaction)
            )
        except UserFacingError as error:
            await interaction.edit_original_response(content=error.message)
            return
        try:
            await interaction.user.send(
                seed_text(run, buttons=True), view=run_view(run.id),
                nonce=nonce_for(f"async-run:{run.id}:seed"),
            )
        except discord.HTTPException:
            log.info("Could not DM user %s their async seed", interaction.user.id)
            # Then this answer is the only place the seed and its buttons are.
            await interaction.edit_original_response(
                content=clip(seed_text(run, buttons=True) + "\nI could not DM you the seed: "
                             "keep this message.", 2000), view=run_view(run.id),
            )
            return
        await interaction.edit_original_response(
            content=clip(seed_text(run, buttons=False) + "\nThe seed is in your DMs too.", 2000)
        )

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction, _: discord.ui.Button[StartRunView]
    ) -> None:
        self._close()
        await interaction.response.edit_message(
            content="Nothing started. `/async start` shows your next seed again.", view=None
        )

    async def on_timeout(self) -> None:
        self._close()
        try:
            await self._opened.edit_original_response(
                content="This preview has closed; nothing was started. `/async start` shows "
                "it again.", view=None,
            )
        except discord.HTTPException:
            log.debug("Could not close the /async start preview of %s", self._owner.id)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        log.error("/async start button failed for user %s", interaction.user.id,
                  exc_info=error)
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=APOLOGY, view=None)
            else:
                await reply(interaction, APOLOGY, ephemeral=True)
        except discord.HTTPException:
            log.warning("Could not tell user %s that a button failed", interaction.user.id)
