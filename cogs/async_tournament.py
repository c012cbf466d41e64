"""``/async``: organizers create, close and look at async tournaments and add their pools;
players join and leave (an organizer can add or remove anyone); everyone sees who plays.

The rules live in ``core.live_races.async_tournaments``; this cog parses, checks who asks and
renders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.live_races.embeds import (
    participants_pages,
    pools_pages,
    tournament_embed,
    tournaments_pages,
)
from cogs._shared.pages import send_pages, text_pages
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.replies import reply
from cogs._shared.tournaments.choices import TournamentChoices, tournament_choices
from core.access import AccessPolicy, Permission
from core.live_races.async_tournaments import AsyncTournamentService

if TYPE_CHECKING:
    from bot import RaceDeskBot

TOURNAMENT_HELP = "The async tournament: pick one from the suggestions"


@app_commands.guild_only()
class AsyncCog(TournamentChoices, ServerOnly, commands.GroupCog, group_name="async"):
    """Async tournaments: pools, participants and their runs."""

    pool = app_commands.Group(name="pool", description="The pools of an async tournament")

    def __init__(self, asyncs: AsyncTournamentService, access: AccessPolicy) -> None:
        self.asyncs = self.tournament_names = asyncs
        self.access = access
        super().__init__()

    # -- tournaments -------------------------------------------------------------------------

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="create")
    @app_commands.describe(
        name="The async tournament's name, e.g. Winter Async 2026",
        category="The racetime category its live races' rooms open in, e.g. alttpr",
        goal="The racetime goal of its live races (default: Beat the game)",
    )
    async def create(
        self, interaction: discord.Interaction, name: str, category: str, goal: str | None = None
    ) -> None:
        """Create an async tournament in this server."""
        assert interaction.guild_id is not None
        info = await self.asyncs.create(
            interaction.guild_id, name, category=category, goal=goal,
            actor=actor_of(interaction),
        )
        await reply(interaction, f"Created the async tournament **{info.name}**.",
                    embed=tournament_embed(info))

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="info")
    @app_commands.describe(tournament=TOURNAMENT_HELP)
    async def info(self, interaction: discord.Interaction, tournament: str) -> None:
        """Show an async tournament, its pools and how many play it."""
        assert interaction.guild_id is not None
        info = await self.asyncs.info(
            interaction.guild_id, tournament, actor=actor_of(interaction)
        )
        await reply(interaction, embed=tournament_embed(info))

    info.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="list")
    @app_commands.describe(closed="Also list the closed ones")
    async def list_(self, interaction: discord.Interaction, closed: bool = False) -> None:
        """List this server's async tournaments."""
        assert interaction.guild_id is not None
        infos = await self.asyncs.list_tournaments(
            interaction.guild_id, actor=actor_of(interaction), include_closed=closed
        )
        await send_pages(interaction, text_pages(tournaments_pages(infos)))

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="close")
    @app_commands.describe(tournament=TOURNAMENT_HELP)
    async def close(self, interaction: discord.Interaction, tournament: str) -> None:
        """Close an async tournament: nobody joins it and no live race opens a room for it."""
        assert interaction.guild_id is not None
        info = await self.asyncs.close(
            interaction.guild_id, tournament, actor=actor_of(interaction)
        )
        await reply(interaction, f"Closed **{info.name}**. Its runs are kept.")

    close.autocomplete("tournament")(tournament_choices)

    # -- pools -------------------------------------------------------------------------------

    @requires(Permission.MANAGE_TOURNAMENTS)
    @pool.command(name="add")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP,
        name="The pool's name, e.g. Pool A",
        description="What the pool holds, e.g. its seeds",
    )
    async def pool_add(
        self, interaction: discord.Interaction, tournament: str, name: str,
        description: str | None = None,
    ) -> None:
        """Add a pool to an async tournament."""
        assert interaction.guild_id is not None
        pool = await self.asyncs.add_pool(
            interaction.guild_id, tournament, name, description=description,
            actor=actor_of(interaction),
        )
        await reply(interaction, f"Added the pool **{pool.name}**.")

    pool_add.autocomplete("tournament")(tournament_choices)

    @pool.command(name="list")
    @app_commands.describe(tournament=TOURNAMENT_HELP)
    async def pool_list(self, interaction: discord.Interaction, tournament: str) -> None:
        """List an async tournament's pools and how many runs each has."""
        assert interaction.guild_id is not None
        name, pools = await self.asyncs.pools(interaction.guild_id, tournament)
        await send_pages(interaction, text_pages(pools_pages(name, pools)))

    pool_list.autocomplete("tournament")(tournament_choices)

    # -- participants ------------------------------------------------------------------------

    @app_commands.command(name="join")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP,
        pool="Play only this pool (default: every pool)",
        member="Organizers: register this member instead of yourself",
    )
    async def join(
        self, interaction: discord.Interaction, tournament: str, pool: str | None = None,
        member: discord.Member | None = None,
    ) -> None:
        """Join an async tournament (organizers can add a member)."""
        assert interaction.guild_id is not None
        who = member.id if member is not None else interaction.user.id
        joined = await self.asyncs.join(
            interaction.guild_id, tournament, who, pool=pool, actor=actor_of(interaction)
        )
        you = "You are" if who == interaction.user.id else f"<@{who}> is"
        where = f", pool **{joined.pool}** only" if joined.pool else ""
        verb = "now registered for" if joined.changed else "already registered for"
        await reply(interaction, f"{you} {verb} **{joined.tournament}**{where}.")

    join.autocomplete("tournament")(tournament_choices)

    @app_commands.command(name="leave")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP,
        member="Organizers: remove this member instead of yourself",
    )
    async def leave(
        self, interaction: discord.Interaction, tournament: str,
        member: discord.Member | None = None,
    ) -> None:
        """Leave an async tournament (organizers can remove a member); runs are kept."""
        assert interaction.guild_id is not None
        who = member.id if member is not None else interaction.user.id
        left = await self.asyncs.leave(
            interaction.guild_id, tournament, who, actor=actor_of(interaction)
        )
        you = "You" if who == interaction.user.id else f"<@{who}>"
        text = (
            f"{you} left **{left.tournament}**; recorded runs are kept." if left.changed
            else f"{you} {'are' if you == 'You' else 'is'} not a participant of "
            f"**{left.tournament}**."
        )
        await reply(interaction, text)

    leave.autocomplete("tournament")(tournament_choices)

    @app_commands.command(name="participants")
    @app_commands.describe(tournament=TOURNAMENT_HELP)
    async def participants(self, interaction: discord.Interaction, tournament: str) -> None:
        """List an async tournament's participants and their runs."""
        assert interaction.guild_id is not None
        name, people = await self.asyncs.participants(interaction.guild_id, tournament)
        await send_pages(interaction, text_pages(participants_pages(name, people)))

    participants.autocomplete("tournament")(tournament_choices)


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(AsyncCog(bot.services.async_tournaments, bot.services.access))
