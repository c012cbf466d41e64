"""The Submit and Forfeit buttons under the seed RaceDesk DMs when a player's run starts, and
the form Submit opens.

The buttons are :class:`discord.ui.DynamicItem`s whose custom id names the run and the action
(``async-run:12:submit``): they work after a restart, and in a DM, where an interaction brings
no server. The run service decides who may (the run's player, still a member of its
tournament's server) and what became of a run that is no longer in progress; a press on it
says so and changes nothing. Forfeit asks first, in place: the DM's buttons become "Yes, give
up" and "No, keep playing". Once a run is submitted or given up here, the DM says so and loses
its buttons.
"""

from __future__ import annotations

import logging
import re
from typing import Any, cast

import discord

from cogs._shared.discord_limits import MESSAGE_CONTENT_MAX, MODAL_TITLE_MAX
from cogs._shared.fitting import clip
from cogs._shared.permissions import actor_of
from cogs._shared.replies import reply
from cogs._shared.tree import answer_error
from core.container import Services
from core.live_races.async_run_values import COMMENT_MAX, VOD_MAX, RunInfo, written_duration
from core.live_races.async_runs import AsyncRunService

log = logging.getLogger(__name__)

# action -> (label, style); "give-up" and "keep" replace the two after Forfeit is pressed.
BUTTONS = {
    "submit": ("Submit", discord.ButtonStyle.success),
    "forfeit": ("Forfeit", discord.ButtonStyle.secondary),
    "give-up": ("Yes, give up this run", discord.ButtonStyle.danger),
    "keep": ("No, keep playing", discord.ButtonStyle.secondary),
}
TIME_LABEL = "Your time (H:MM:SS)"
VOD_LABEL = "Link to your VOD"
COMMENT_LABEL = "Comment for the reviewers (optional)"
TIME_INPUT_MAX = 12
FORM_TIMEOUT_SECONDS = 900.0  # as long as the interaction's token


def run_view(run_id: int) -> discord.ui.View:
    """Submit and Forfeit, for the seed's DM."""
    return _view(run_id, "submit", "forfeit")


def confirm_view(run_id: int) -> discord.ui.View:
    return _view(run_id, "give-up", "keep")


def _view(run_id: int, *actions: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(RunButton(run_id, action))
    return view


def submitted_note(run: RunInfo) -> str:
    assert run.finish_time is not None
    return (f"✅ Submitted seed {run.position} of **{run.tournament}** · **{run.pool}** in "
            f"{written_duration(run.finish_time)}. It waits for review.")


def forfeit_note(run: RunInfo) -> str:
    return f"🏳️ You gave up seed {run.position} of **{run.tournament}** · **{run.pool}**."


def with_outcome(content: str | None, note: str) -> str:
    """The DM's text with what became of the run below it, within Discord's limit."""
    room = MESSAGE_CONTENT_MAX - len(note) - 2
    return f"{clip(content or '', room)}\n\n{note}".lstrip()


def _runs(interaction: discord.Interaction) -> AsyncRunService:
    return cast(Services, getattr(interaction.client, "services")).async_runs  # noqa: B009


class RunButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"async-run:(?P<id>[0-9]{1,18}):(?P<action>submit|forfeit|give-up|keep)",
):
    """One of the seed DM's buttons, for as long as the run is in progress, after a restart
    too."""

    def __init__(self, run_id: int, action: str) -> None:
        label, style = BUTTONS[action]
        super().__init__(discord.ui.Button(
            label=label, style=style, custom_id=f"async-run:{run_id}:{action}",
        ))
        self.run_id = run_id
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
        match: re.Match[str], /,
    ) -> RunButton:
        return cls(int(match["id"]), match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:
        runs = _runs(interaction)
        actor = actor_of(interaction)
        try:
            if self.action == "submit":
                run = await runs.run_in_progress(self.run_id, actor=actor)
                await interaction.response.send_modal(
                    SubmitRunForm(runs, run, owner=interaction.user.id)
                )
            elif self.action == "forfeit":
                await runs.run_in_progress(self.run_id, actor=actor)
                await interaction.response.edit_message(view=confirm_view(self.run_id))
            elif self.action == "give-up":
                run = await runs.forfeit_run(self.run_id, actor=actor)
                shown = interaction.message.content if interaction.message else None
                await interaction.response.edit_message(
                    content=with_outcome(shown, forfeit_note(run)), view=None
                )
            else:  # "keep": nothing changes but the buttons
                await interaction.response.edit_message(view=run_view(self.run_id))
        except Exception as error:
            await answer_error(interaction, error)


class SubmitRunForm(discord.ui.Modal):
    """The time, VOD link and comment of a run, submitted through the run service (the same
    checks as ``/async submit``). A mistake is answered privately and the DM stays as it was;
    a submission edits the DM it came from."""

    time: discord.ui.TextInput[SubmitRunForm] = discord.ui.TextInput(
        label=TIME_LABEL, placeholder="1:23:45", max_length=TIME_INPUT_MAX
    )
    vod: discord.ui.TextInput[SubmitRunForm] = discord.ui.TextInput(
        label=VOD_LABEL, placeholder="https://www.twitch.tv/videos/…", max_length=VOD_MAX
    )
    comment: discord.ui.TextInput[SubmitRunForm] = discord.ui.TextInput(
        label=COMMENT_LABEL, style=discord.TextStyle.paragraph, required=False,
        max_length=COMMENT_MAX,
    )

    def __init__(self, runs: AsyncRunService, run: RunInfo, *, owner: int) -> None:
        super().__init__(
            title=clip(f"Submit seed {run.position} · {run.tournament}", MODAL_TITLE_MAX),
            timeout=FORM_TIMEOUT_SECONDS,
        )
        self._runs = runs
        self._run_id = run.id
        self._owner = owner

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the player who opened the form submits it (the service asked about them)."""
        return interaction.user.id == self._owner

    async def on_submit(self, interaction: discord.Interaction) -> None:
        run = await self._runs.submit_run(
            self._run_id, self.time.value, self.vod.value, comment=self.comment.value or None,
            actor=actor_of(interaction),
        )
        note = submitted_note(run)
        if interaction.message is None:  # opened from elsewhere than a message's button
            await reply(interaction, note)
            return
        await interaction.response.edit_message(
            content=with_outcome(interaction.message.content, note), view=None
        )

    # discord.py's own Modal.on_error drops the item argument its BaseView declares.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception
    ) -> None:
        await answer_error(interaction, error)
