"""``/async seeds`` and ``/async seed …``: organizers give an async tournament's pools their
seeds, by hand or rolled by the tournament's seed provider. Commands mixed into the ``/async`` cog
(:class:`cogs.async_tournament.AsyncCog`), which holds the services."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.live_races.async_runs import generated_text, seeds_pages
from cogs._shared.live_races.options import POOL_HELP, TOURNAMENT_HELP
from cogs._shared.pages import send_pages, text_pages
from cogs._shared.permissions import actor_of, requires
from cogs._shared.replies import reply
from cogs._shared.tournaments.choices import TournamentChoices, tournament_choices
from cogs._shared.tournaments.seed_settings import (
    SEED_OPTION_CHOICES,
    SEED_OPTION_HELP,
    given_seed_settings,
    seed_change_text,
    seed_settings_shown,
    suggested_presets,
)
from core.access import AccessPolicy, Permission
from core.errors import UserFacingError
from core.live_races.async_run_values import written_duration
from core.live_races.async_runs import AsyncRunService
from core.live_races.async_seeds import GENERATE_MAX, AsyncSeeds


class AsyncSeedCommands(TournamentChoices, commands.Cog):
    """The seed commands of ``/async``."""

    runs: AsyncRunService
    async_seeds: AsyncSeeds
    access: AccessPolicy

    seed = app_commands.Group(name="seed", description="The seeds of an async tournament's pools")

    @requires(Permission.MANAGE_TOURNAMENTS)
    @seed.command(name="add")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP, pool=POOL_HELP,
        seed="The seed: its permalink, or text telling how to get it",
        par="The par time, e.g. 1:30:00",
    )
    async def seed_add(
        self, interaction: discord.Interaction, tournament: str, pool: str, seed: str,
        par: str | None = None,
    ) -> None:
        """Add a seed at the end of a pool (players play them in order)."""
        assert interaction.guild_id is not None
        name, added = await self.runs.add_seed(
            interaction.guild_id, tournament, pool, seed, par=par, actor=actor_of(interaction)
        )
        par_text = f" (par {written_duration(added.par_time)})" if added.par_time else ""
        await reply(interaction, f"Added seed {added.position} to **{name}**{par_text}.")

    seed_add.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @seed.command(name="generate")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP, pool=POOL_HELP,
        count=f"How many seeds to roll (1 to {GENERATE_MAX})",
        preset="The preset to roll (default: the tournament's default preset)",
        par="The par time of each, e.g. 1:30:00",
    )
    async def seed_generate(
        self, interaction: discord.Interaction, tournament: str, pool: str,
        count: app_commands.Range[int, 1, GENERATE_MAX] = 1, preset: str | None = None,
        par: str | None = None,
    ) -> None:
        """Roll seeds with the tournament's seed provider, at the end of a pool."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)  # a roll takes seconds
        generated = await self.async_seeds.generate(
            interaction.guild_id, tournament, pool, count, preset=preset, par=par,
            actor=actor_of(interaction),
        )
        await reply(interaction, generated_text(generated))

    seed_generate.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="seeds")
    @app_commands.describe(
        tournament="The async tournament whose seed provider to show or change",
        **SEED_OPTION_HELP,
    )
    @app_commands.choices(**SEED_OPTION_CHOICES)
    async def seed_settings(
        self, interaction: discord.Interaction, tournament: str, provider: str | None = None,
        presets: str | None = None, default_preset: str | None = None,
        template: str | None = None, spoiler: str | None = None, race: bool | None = None,
    ) -> None:
        """Show or change the seed provider that /async seed generate rolls pool seeds with."""
        assert interaction.guild_id is not None
        actor = actor_of(interaction)
        given = given_seed_settings(provider, presets, default_preset, template, spoiler, race)
        if not given:
            name, settings = await self.async_seeds.view(
                interaction.guild_id, tournament, actor=actor
            )
            await reply(interaction, seed_settings_shown(name, settings, "/async seeds"))
            return
        change = await self.async_seeds.configure(
            interaction.guild_id, tournament, given, actor=actor
        )
        await reply(interaction, seed_change_text(change))

    seed_settings.autocomplete("tournament")(tournament_choices)

    @seed_settings.autocomplete("default_preset")
    @seed_generate.autocomplete("preset")
    async def preset_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """To organizers: the typed async tournament's presets, else the ALTTPR presets."""
        guild_id, actor = interaction.guild_id, actor_of(interaction)
        if guild_id is None or not await self.access.allows(
            actor, Permission.MANAGE_TOURNAMENTS, guild_id
        ):
            return []
        typed = getattr(interaction.namespace, "tournament", None)
        settings = None
        if isinstance(typed, str):
            try:
                settings = (await self.async_seeds.view(guild_id, typed, actor=actor))[1]
            except UserFacingError:
                settings = None
        return suggested_presets(current, getattr(interaction.namespace, "provider", None),
                                 settings)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @seed.command(name="list")
    @app_commands.describe(tournament=TOURNAMENT_HELP, pool=POOL_HELP)
    async def seed_list(
        self, interaction: discord.Interaction, tournament: str, pool: str
    ) -> None:
        """List a pool's seeds, their par times and runs (only you see them)."""
        assert interaction.guild_id is not None
        name, pool_name, seeds = await self.runs.seeds(
            interaction.guild_id, tournament, pool, actor=actor_of(interaction)
        )
        await send_pages(interaction, text_pages(seeds_pages(name, pool_name, seeds)))

    seed_list.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @seed.command(name="remove")
    @app_commands.describe(
        tournament=TOURNAMENT_HELP, pool=POOL_HELP,
        number="The seed's number, as /async seed list shows it",
    )
    async def seed_remove(
        self, interaction: discord.Interaction, tournament: str, pool: str,
        number: app_commands.Range[int, 1],
    ) -> None:
        """Remove a seed nobody has played from a pool."""
        assert interaction.guild_id is not None
        name = await self.runs.remove_seed(
            interaction.guild_id, tournament, pool, number, actor=actor_of(interaction)
        )
        await reply(interaction, f"Removed seed {number} from **{name}**.")

    seed_remove.autocomplete("tournament")(tournament_choices)
