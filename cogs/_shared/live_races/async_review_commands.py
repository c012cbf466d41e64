"""``/async reviewers``, ``/async review …`` and ``/async leaderboard``: reviewers decide
players' submitted runs, and anyone sees the boards. Commands mixed into the ``/async`` cog
(:class:`cogs.async_tournament.AsyncCog`), which holds the services."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.live_races.async_reviews import (
    decided_text,
    leaderboard_pages,
    queue_pages,
    tell_player,
)
from cogs._shared.live_races.options import TOURNAMENT_HELP
from cogs._shared.pages import send_pages, text_pages
from cogs._shared.permissions import actor_of, requires
from cogs._shared.replies import reply
from cogs._shared.tournaments.choices import TournamentChoices, tournament_choices
from core.access import Permission
from core.live_races.async_reviews import AsyncReviewService, Decision
from core.live_races.leaderboard import AsyncLeaderboards


class AsyncReviewCommands(TournamentChoices, commands.Cog):
    """The review and leaderboard commands of ``/async``."""

    reviews: AsyncReviewService
    leaderboards: AsyncLeaderboards

    review = app_commands.Group(name="review", description="Review players' submitted runs")


    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="reviewers")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP,
        role="Members with this role review its runs (leave out: organizers only)",
    )
    async def reviewers(
        self, interaction: discord.Interaction, tournament: str,
        role: discord.Role | None = None,
    ) -> None:
        """Choose the role whose members review an async tournament's runs."""
        assert interaction.guild_id is not None
        name = await self.reviews.set_reviewer_role(
            interaction.guild_id, tournament, role.id if role else None,
            actor=actor_of(interaction),
        )
        who = f"Members with {role.mention}" if role else "Only organizers"
        await reply(interaction, f"{who} now review the runs of **{name}** (organizers always "
                    "may; nobody reviews their own run).")

    reviewers.autocomplete("tournament")(tournament_choices)

    # The review commands are open at the gate: the service lets in organizers and members
    # with the tournament's reviewer role, and refuses the others with that tournament's name.
    @review.command(name="queue")
    @app_commands.describe(tournament=TOURNAMENT_HELP)
    async def review_queue(self, interaction: discord.Interaction, tournament: str) -> None:
        """List the runs waiting for review, oldest first (reviewers)."""
        assert interaction.guild_id is not None
        name, queued = await self.reviews.queue(
            interaction.guild_id, tournament, actor=actor_of(interaction)
        )
        await send_pages(interaction, text_pages(queue_pages(name, queued, interaction.user.id)))

    review_queue.autocomplete("tournament")(tournament_choices)

    @review.command(name="approve")
    @app_commands.describe(run="The run's number, as /async review queue shows it (#12: 12)")
    async def review_approve(
        self, interaction: discord.Interaction, run: app_commands.Range[int, 1]
    ) -> None:
        """Approve a submitted run as it is (reviewers)."""
        assert interaction.guild_id is not None
        await self._decided(interaction, await self.reviews.approve(
            interaction.guild_id, run, actor=actor_of(interaction)
        ))

    @review.command(name="reject")
    @app_commands.describe(
        run="The run's number, as /async review queue shows it (#12: 12)",
        reason="Why: the player is told it",
    )
    async def review_reject(
        self, interaction: discord.Interaction, run: app_commands.Range[int, 1],
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        """Reject a submitted run, with the reason (reviewers)."""
        assert interaction.guild_id is not None
        await self._decided(interaction, await self.reviews.reject(
            interaction.guild_id, run, reason, actor=actor_of(interaction)
        ))

    @review.command(name="adjust")
    @app_commands.describe(
        run="The run's number, as /async review queue shows it (#12: 12)",
        time="The corrected time, H:MM:SS or MM:SS, e.g. 1:23:45",
        reason="Why the time changed: the player is told it",
    )
    async def review_adjust(
        self, interaction: discord.Interaction, run: app_commands.Range[int, 1], time: str,
        reason: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        """Approve a submitted run with a corrected time (reviewers)."""
        assert interaction.guild_id is not None
        await self._decided(interaction, await self.reviews.adjust(
            interaction.guild_id, run, time, reason=reason, actor=actor_of(interaction)
        ))

    @app_commands.command(name="leaderboard")
    @app_commands.describe(tournament=TOURNAMENT_HELP, pool="One pool's board (default: overall)")
    async def leaderboard(
        self, interaction: discord.Interaction, tournament: str, pool: str | None = None
    ) -> None:
        """Show an async tournament's leaderboard: approved runs scored from par, ranked."""
        assert interaction.guild_id is not None
        board = await self.leaderboards.board(
            interaction.guild_id, tournament, pool=pool, actor=actor_of(interaction)
        )
        await send_pages(interaction, text_pages(leaderboard_pages(board)))

    leaderboard.autocomplete("tournament")(tournament_choices)

    async def _decided(self, interaction: discord.Interaction, decision: Decision) -> None:
        told = await tell_player(interaction.client, decision)
        await reply(interaction, decided_text(decision, told))
