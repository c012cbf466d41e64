"""The message organizers post for players to start their own runs (``/async start-button``):
the tournament, how it works, and one "Start a run: <pool>" button per pool.

The buttons are :class:`discord.ui.DynamicItem`s whose custom id names the tournament and the
pool by id (``async-start:3:7``): they keep working after a restart, and whoever presses one
gets, only for them, the preview ``/async start`` shows, with its Start and Cancel. The run
service decides who may (a participant of that pool) and says why not; a tournament closed or
a pool gone since the post is answered as such.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import discord

from cogs._shared.discord_limits import (
    ACTION_ROWS_MAX,
    BUTTON_LABEL_MAX,
    BUTTONS_PER_ROW_MAX,
    MESSAGE_CONTENT_MAX,
)
from cogs._shared.fitting import clip, fit_lines
from cogs._shared.live_races.async_runs import StartRunView, preview_text
from cogs._shared.permissions import actor_of
from cogs._shared.replies import reply
from cogs._shared.tree import answer_error
from core.container import Services
from core.errors import UserFacingError
from core.live_races.async_run_values import StartBoard

if TYPE_CHECKING:
    from discord.interactions import InteractionChannel

BUTTONS_PER_MESSAGE = ACTION_ROWS_MAX * BUTTONS_PER_ROW_MAX
MESSAGES_MAX = 4  # a tournament with more pools than 100 gets buttons for its first 100
LABEL = "Start a run: {pool}"


def board_text(board: StartBoard) -> str:
    return fit_lines([
        f"**{board.tournament}** · runs on your own time",
        "Press your pool's button: only you see your next seed's number, and nothing starts "
        "until you press **Start**.",
        f"• Register first with `/async join tournament:{board.tournament}`.",
        "• One attempt per seed, in the pool's order.",
        f"• Once started, the seed comes by DM and you have {board.limit_hours} hours to submit "
        "your time with a link to your VOD (the DM's **Submit** button); after that, the run "
        "is a forfeit.",
    ], MESSAGE_CONTENT_MAX)


def board_messages(board: StartBoard) -> list[tuple[str, discord.ui.View]]:
    """The messages to post, in order: the text and the first 25 pools' buttons, then the
    next 25 pools' under a short line each, up to :data:`MESSAGES_MAX` messages."""
    pools = board.pools[: BUTTONS_PER_MESSAGE * MESSAGES_MAX]
    messages = []
    for start in range(0, len(pools), BUTTONS_PER_MESSAGE):
        view = discord.ui.View(timeout=None)
        for pool_id, name in pools[start:start + BUTTONS_PER_MESSAGE]:
            view.add_item(StartRunButton(board.tournament_id, pool_id, name))
        text = board_text(board) if start == 0 else clip(
            f"**{board.tournament}** · more pools", MESSAGE_CONTENT_MAX
        )
        messages.append((text, view))
    return messages


def left_out(board: StartBoard) -> int:
    """How many pools got no button (beyond :data:`MESSAGES_MAX` messages)."""
    return max(0, len(board.pools) - BUTTONS_PER_MESSAGE * MESSAGES_MAX)


def check_can_post(
    channel: discord.TextChannel, me: discord.Member, organizer: discord.Member
) -> None:
    """Refused unless RaceDesk can post in ``channel``, and the organizer could too (a
    public message goes nowhere they may not write themselves)."""
    mine = channel.permissions_for(me)
    if not (mine.view_channel and mine.send_messages):
        raise UserFacingError(_cannot_post(channel))
    theirs = channel.permissions_for(organizer)
    if not (theirs.view_channel and theirs.send_messages):
        raise UserFacingError(
            f"You can't post in {channel.mention} yourself, so RaceDesk won't either: choose "
            "a channel you can write in."
        )


class StartRunButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"async-start:(?P<tournament>[0-9]{1,18}):(?P<pool>[0-9]{1,18})",
):
    """"Start a run: <pool>" on an organizers' post; works as long as the post is there."""

    def __init__(self, tournament_id: int, pool_id: int, pool: str | None = None) -> None:
        super().__init__(discord.ui.Button(
            label=clip(LABEL.format(pool=pool), BUTTON_LABEL_MAX) if pool else None,
            style=discord.ButtonStyle.primary,
            custom_id=f"async-start:{tournament_id}:{pool_id}",
        ))
        self.tournament_id = tournament_id
        self.pool_id = pool_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
        match: re.Match[str], /,
    ) -> StartRunButton:
        return cls(int(match["tournament"]), int(match["pool"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        runs = cast(Services, getattr(interaction.client, "services")).async_runs  # noqa: B009
        try:
            shown = await runs.preview_pool(
                self.tournament_id, self.pool_id, actor=actor_of(interaction)
            )
        except Exception as error:
            await answer_error(interaction, error)
            return
        await interaction.response.send_message(
            preview_text(shown), view=StartRunView(runs, interaction, shown), ephemeral=True
        )


async def post_board(
    interaction: discord.Interaction, board: StartBoard,
    channel: InteractionChannel | discord.PartialMessageable | None,
) -> None:
    """Post the board's messages in ``channel``, the one chosen or where the command was
    typed (checked first: a text channel RaceDesk and the organizer can post in), and tell the
    organizer."""
    if not isinstance(channel, discord.TextChannel):
        raise UserFacingError("Choose a text channel to post it in with `channel:`.")
    assert isinstance(interaction.user, discord.Member)
    check_can_post(channel, channel.guild.me, interaction.user)
    await interaction.response.defer(ephemeral=True, thinking=True)  # a few posts to make
    posted = 0
    for text, view in board_messages(board):
        try:
            await channel.send(text, view=view, allowed_mentions=discord.AllowedMentions.none())
        except discord.Forbidden:
            raise UserFacingError(_cannot_post(channel)) from None
        posted += 1
    more = left_out(board)
    await reply(interaction, fit_lines([
        f"Posted the Start a run buttons of **{board.tournament}** in {channel.mention} "
        f"({posted} message(s), one button per pool).",
        *([f"{more} pool(s) got none: players start those with `/async start`."]
          if more else []),
    ], MESSAGE_CONTENT_MAX, sep=" "))


def _cannot_post(channel: discord.TextChannel) -> str:
    return (f"RaceDesk can't post in {channel.mention}: give it View Channel and Send "
            "Messages there, or choose another channel with `channel:`.")
