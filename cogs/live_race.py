"""``/liverace``: organizers schedule, cancel and delete live races of async tournaments;
moderators open a room by hand; everyone lists them, looks one up and sees who may race.

The rules live in ``core.live_races.live_races`` (and the room in
``core.live_races.rooms``); this cog parses, checks who asks and renders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.choices import choices
from cogs._shared.live_races.embeds import (
    created_text,
    eligible_pages,
    info_embed,
    list_pages,
    opening_text,
)
from cogs._shared.pages import embed_pages_of, send_pages, text_pages
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.replies import reply
from cogs._shared.time_option import WHEN_HELP, When
from cogs._shared.tournaments.choices import TournamentChoices, tournament_choices
from core.access import AccessPolicy, Permission
from core.live_races.async_tournaments import AsyncTournamentService
from core.live_races.live_races import (
    LIVE_RACE_ROOM_MINUTES_DEFAULT,
    LIVE_RACE_ROOM_MINUTES_MAX,
    LIVE_RACE_ROOM_MINUTES_MIN,
    LiveRaceService,
    live_race_id_from,
)
from core.times.parsing import show_time

if TYPE_CHECKING:
    from bot import RaceDeskBot

RACE_HELP = "The live race: pick one from the suggestions, or give its number"
LIST_MAX = 25  # the latest live races /liverace list shows


@app_commands.guild_only()
class LiveRaceCog(TournamentChoices, ServerOnly, commands.GroupCog, group_name="liverace"):
    """Scheduled group races of async tournaments."""

    def __init__(
        self,
        races: LiveRaceService,
        asyncs: AsyncTournamentService,
        access: AccessPolicy,
    ) -> None:
        self._races = races
        self.asyncs = self.tournament_names = asyncs
        self.access = access
        super().__init__()

    async def race_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        found = await self._races.suggest(interaction.guild_id, current)
        return choices((label, str(race_id)) for race_id, label in found)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="create")
    @app_commands.describe(
        tournament="The async tournament",
        when=WHEN_HELP,
        pool="The pool this race is a run of (default: none)",
        goal="The racetime goal (default: the tournament's)",
        invitational="Only invited participants may join the room (default on)",
        streaming_required="Entrants must stream (default on)",
        open_minutes_before=(
            f"Minutes before the start the room opens: {LIVE_RACE_ROOM_MINUTES_MIN} to "
            f"{LIVE_RACE_ROOM_MINUTES_MAX} (default {LIVE_RACE_ROOM_MINUTES_DEFAULT})"
        ),
    )
    async def create(
        self,
        interaction: discord.Interaction,
        tournament: str,
        when: When,
        pool: str | None = None,
        goal: str | None = None,
        invitational: bool | None = None,
        streaming_required: bool | None = None,
        open_minutes_before: int | None = None,
    ) -> None:
        """Schedule a live race of an async tournament; eligible participants are told."""
        assert interaction.guild_id is not None
        race = await self._races.create(
            interaction.guild_id, tournament, when, pool=pool, goal=goal,
            invitational=invitational, streaming_required=streaming_required,
            open_minutes_before=open_minutes_before, actor=actor_of(interaction),
        )
        await reply(interaction, created_text(race))

    create.autocomplete("tournament")(tournament_choices)

    @app_commands.command(name="list")
    @app_commands.describe(tournament="Only this async tournament's live races (default: all)")
    async def list_(self, interaction: discord.Interaction, tournament: str | None = None) -> None:
        """List the live races and their status."""
        assert interaction.guild_id is not None
        # Each race is looked up in full; many of them can outlast Discord's 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        races = await self._races.list_races(interaction.guild_id, tournament, limit=LIST_MAX + 1)
        more = LIST_MAX if len(races) > LIST_MAX else None
        races = races[:LIST_MAX]
        shown = races[0].tournament if tournament and races else tournament
        await send_pages(interaction, embed_pages_of(list_pages(races, shown, more_after=more)))

    list_.autocomplete("tournament")(tournament_choices)

    @app_commands.command(name="info")
    @app_commands.describe(race=RACE_HELP)
    async def info(self, interaction: discord.Interaction, race: str) -> None:
        """Show a live race: its status, room and recorded runs."""
        assert interaction.guild_id is not None
        shown = await self._races.info(interaction.guild_id, live_race_id_from(race))
        await reply(interaction, embed=info_embed(shown))

    info.autocomplete("race")(race_choices)

    @app_commands.command(name="eligible")
    @app_commands.describe(race=RACE_HELP)
    async def eligible(self, interaction: discord.Interaction, race: str) -> None:
        """Who can take part in a live race and, for the others, why not."""
        assert interaction.guild_id is not None
        shown, people = await self._races.eligibility(
            interaction.guild_id, live_race_id_from(race)
        )
        await send_pages(interaction, text_pages(eligible_pages(shown, people)))

    eligible.autocomplete("race")(race_choices)

    @requires(Permission.OPEN_ROOMS)
    @app_commands.command(name="open")
    @app_commands.describe(race=RACE_HELP)
    async def open_(self, interaction: discord.Interaction, race: str) -> None:
        """Open a live race's racetime room now and invite the eligible participants."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        opening = await self._races.open_room(
            interaction.guild_id, live_race_id_from(race), actor=actor_of(interaction)
        )
        await reply(interaction, opening_text(opening))

    open_.autocomplete("race")(race_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="cancel")
    @app_commands.describe(race=RACE_HELP, reason="Why it is called off; participants are told")
    async def cancel(self, interaction: discord.Interaction, race: str, reason: str) -> None:
        """Cancel a live race; the eligible participants are told why."""
        assert interaction.guild_id is not None
        shown = await self._races.cancel(
            interaction.guild_id, live_race_id_from(race), reason, actor=actor_of(interaction)
        )
        await reply(
            interaction,
            f"Cancelled live race **#{shown.id}** of **{shown.tournament}** "
            f"({show_time(shown.scheduled_at)}). Reason: {shown.cancelled_reason}\n"
            "The eligible participants are told by DM.",
        )

    cancel.autocomplete("race")(race_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="delete")
    @app_commands.describe(race=RACE_HELP)
    async def delete(self, interaction: discord.Interaction, race: str) -> None:
        """Delete a live race that is scheduled or cancelled."""
        assert interaction.guild_id is not None
        race_id = live_race_id_from(race)
        await self._races.delete(interaction.guild_id, race_id, actor=actor_of(interaction))
        await reply(interaction, f"Deleted live race **#{race_id}**.")

    delete.autocomplete("race")(race_choices)


async def setup(bot: RaceDeskBot) -> None:
    services = bot.services
    await bot.add_cog(
        LiveRaceCog(services.live_races, services.async_tournaments, services.access)
    )
