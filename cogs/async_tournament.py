"""``/async``: organizers create, close and look at async tournaments and add their pools;
players join and leave (an organizer can add or remove anyone); everyone sees who plays.
Players start, submit and give up their own runs by command or by the persistent buttons of
the organizers' post (``/async start-button``) and of the seed's DM, registered here.

The rules live in ``core.live_races.async_tournaments``; this cog parses, checks who asks and
renders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.live_races.async_review_commands import AsyncReviewCommands
from cogs._shared.live_races.async_run_buttons import RunButton
from cogs._shared.live_races.async_runs import (
    StartRunView,
    preview_text,
)
from cogs._shared.live_races.async_seed_commands import AsyncSeedCommands
from cogs._shared.live_races.async_start_board import StartRunButton, post_board
from cogs._shared.live_races.embeds import (
    participants_pages,
    pools_pages,
    tournament_embed,
    tournaments_pages,
)
from cogs._shared.live_races.options import POOL_HELP, TOURNAMENT_HELP
from cogs._shared.pages import send_pages, text_pages
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.replies import reply
from cogs._shared.tournaments.choices import TournamentChoices, tournament_choices
from core.access import AccessPolicy, Permission
from core.live_races.async_reviews import AsyncReviewService
from core.live_races.async_run_values import written_duration
from core.live_races.async_runs import AsyncRunService
from core.live_races.async_seeds import AsyncSeeds
from core.live_races.async_tournaments import AsyncTournamentService
from core.live_races.leaderboard import AsyncLeaderboards
from core.pages import PublicPageService

if TYPE_CHECKING:
    from bot import RaceDeskBot

@app_commands.guild_only()
class AsyncCog(
    AsyncSeedCommands, AsyncReviewCommands, TournamentChoices, ServerOnly, commands.GroupCog,
    group_name="async",
):
    """Async tournaments: pools, participants and their runs."""

    pool = app_commands.Group(name="pool", description="The pools of an async tournament")

    def __init__(
        self, bot: RaceDeskBot, asyncs: AsyncTournamentService, runs: AsyncRunService,
        access: AccessPolicy, reviews: AsyncReviewService, leaderboards: AsyncLeaderboards,
        async_seeds: AsyncSeeds, *, pages: PublicPageService,
    ) -> None:
        self._bot = bot
        self.async_seeds = async_seeds
        self.asyncs = self.tournament_names = asyncs
        self.pages = pages
        self.runs = runs
        self.reviews = reviews
        self.leaderboards = leaderboards
        self.access = access
        super().__init__()

    async def cog_load(self) -> None:
        self._bot.add_dynamic_items(StartRunButton, RunButton)

    async def cog_unload(self) -> None:
        self._bot.remove_dynamic_items(StartRunButton, RunButton)

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
        page = self.pages.async_page_url(info.guild_id, info.id) if info.public else None
        await reply(interaction, embed=tournament_embed(info, page_url=page))

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


    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="run-limit")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP,
        hours="Hours a player has to submit a run they start (default 12)",
    )
    async def run_limit(
        self, interaction: discord.Interaction, tournament: str,
        hours: app_commands.Range[int, 1, 336],
    ) -> None:
        """Set how long players have to submit a run they start; later, it is a forfeit."""
        assert interaction.guild_id is not None
        name = await self.runs.set_run_limit(
            interaction.guild_id, tournament, hours, actor=actor_of(interaction)
        )
        await reply(interaction, f"Runs of **{name}** started from now on have {hours} "
                    "hour(s) to be submitted.")

    run_limit.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="page")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP,
        public="Anyone may read its page on the web (live races, leaderboards; default off)",
    )
    async def page(
        self, interaction: discord.Interaction, tournament: str, public: bool | None = None
    ) -> None:
        """Show an async tournament's public page, or turn it on or off."""
        assert interaction.guild_id is not None
        guild, actor = interaction.guild_id, actor_of(interaction)
        if public is None:
            info = await self.asyncs.info(guild, tournament, actor=actor)
            name, id_, on, changed = info.name, info.id, info.public, False
        else:
            set_ = await self.asyncs.set_public(guild, tournament, public, actor=actor)
            name, id_, on, changed = set_.tournament, set_.id, set_.public, set_.changed
        if on:
            said = "is now public" if changed else "is public"
            text = (f"**{name}** {said}: anyone may read its page, "
                    f"{self.pages.async_page_url(guild, id_)}")
        elif changed:
            text = f"**{name}**'s public page is down: its address no longer answers."
        else:
            text = (f"**{name}** has no public page. `/async page tournament:{name} "
                    "public:True` makes one.")
        await reply(interaction, text)

    page.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="reattempt")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP, member="The player who may play the seed again",
        pool=POOL_HELP, number="The seed's number, as /async seed list shows it",
    )
    async def reattempt(
        self, interaction: discord.Interaction, tournament: str, member: discord.Member,
        pool: str, number: app_commands.Range[int, 1],
    ) -> None:
        """Let a player play a seed of a pool again."""
        assert interaction.guild_id is not None
        name = await self.runs.allow_reattempt(
            interaction.guild_id, tournament, member.id, pool, number,
            actor=actor_of(interaction),
        )
        await reply(interaction, f"<@{member.id}> may play seed {number} of **{name}** again: "
                    "their next `/async start` picks it.")

    reattempt.autocomplete("tournament")(tournament_choices)

    # -- players' runs -----------------------------------------------------------------------

    @app_commands.command(name="start")
    @app_commands.describe(tournament=TOURNAMENT_HELP, pool=POOL_HELP)
    async def start(self, interaction: discord.Interaction, tournament: str, pool: str) -> None:
        """Start a run of your next seed of a pool, on your own time (asks first)."""
        assert interaction.guild_id is not None
        shown = await self.runs.preview(
            interaction.guild_id, tournament, pool, actor=actor_of(interaction)
        )
        view = StartRunView(self.runs, interaction, shown)
        await interaction.response.send_message(preview_text(shown), view=view, ephemeral=True)

    start.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="start-button")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP, channel="Where to post it (default: this channel)"
    )
    async def start_button(
        self, interaction: discord.Interaction, tournament: str,
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Post a message with a Start a run button per pool, for players to start runs."""
        assert interaction.guild_id is not None
        board = await self.runs.start_board(
            interaction.guild_id, tournament, actor=actor_of(interaction)
        )
        await post_board(interaction, board, channel or interaction.channel)

    start_button.autocomplete("tournament")(tournament_choices)

    @app_commands.command(name="submit")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP, time="Your final time, H:MM:SS or MM:SS, e.g. 1:23:45",
        vod="A link to the VOD of your run (https://...)", comment="Anything for the reviewers",
    )
    async def submit(
        self, interaction: discord.Interaction, tournament: str, time: str, vod: str,
        comment: str | None = None,
    ) -> None:
        """Submit your run in progress: its time and VOD."""
        assert interaction.guild_id is not None
        run = await self.runs.submit(
            interaction.guild_id, tournament, time, vod, comment=comment,
            actor=actor_of(interaction),
        )
        assert run.finish_time is not None
        await reply(interaction, f"Submitted seed {run.position} of **{run.tournament}** · "
                    f"**{run.pool}** in {written_duration(run.finish_time)}. It waits for "
                    "review.")

    submit.autocomplete("tournament")(tournament_choices)

    @app_commands.command(name="forfeit")
    @app_commands.describe(tournament=TOURNAMENT_HELP)
    async def forfeit(self, interaction: discord.Interaction, tournament: str) -> None:
        """Give up your run in progress."""
        assert interaction.guild_id is not None
        run = await self.runs.forfeit(
            interaction.guild_id, tournament, actor=actor_of(interaction)
        )
        await reply(interaction, f"Forfeit seed {run.position} of **{run.tournament}** · "
                    f"**{run.pool}**.")

    forfeit.autocomplete("tournament")(tournament_choices)




async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(AsyncCog(
        bot, bot.services.async_tournaments, bot.services.async_runs, bot.services.access,
        bot.services.async_reviews, bot.services.async_leaderboards, bot.services.async_seeds,
        pages=bot.services.pages,
    ))
