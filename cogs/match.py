"""``/match``: organizers schedule, move and cancel a tournament's matches (or import them
from a CSV file); everyone can list them and look one up (including why its room has not
opened yet).

The rules (past times, linked players, what can still change) live in
``core.tournaments.matches``; this cog reads the options, checks who asks and renders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.choices import choices
from cogs._shared.members import GuildMemberNames, members_of, mentioned_ids
from cogs._shared.pages import embed_pages_of, send_pages
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.replies import reply
from cogs._shared.time_option import WHEN_HELP, When
from cogs._shared.tournaments.choices import TournamentChoices, tournament_choices
from cogs._shared.tournaments.match_embeds import (
    cancelled_text,
    info_embed,
    list_pages,
    rescheduled_text,
    scheduled_text,
)
from cogs._shared.tournaments.schedule_import import PREVIEW_TIMEOUT_SECONDS, ImportView
from core.access import AccessPolicy, Permission
from core.errors import UserFacingError
from core.room_commands.service import RoomCommands
from core.tournaments.imports import MAX_BYTES, ScheduleImports, read_csv
from core.tournaments.matches import MatchService, match_id_from
from core.tournaments.tournaments import TournamentService

if TYPE_CHECKING:
    from bot import RaceDeskBot

MATCH_HELP = "The match: pick one from the suggestions, or give its number"
LIST_MAX = 25  # the soonest matches /match list shows


@app_commands.guild_only()
class MatchCog(TournamentChoices, ServerOnly, commands.GroupCog, group_name="match"):
    """Schedule and follow this server's tournament matches."""

    def __init__(
        self,
        matches: MatchService,
        tournaments: TournamentService,
        access: AccessPolicy,
        room_commands: RoomCommands,
        imports: ScheduleImports,
        *,
        import_timeout: float = PREVIEW_TIMEOUT_SECONDS,
    ) -> None:
        self._matches = matches
        self._imports = imports
        self.import_timeout = import_timeout
        self._room_commands = room_commands
        self._tournaments = tournaments
        self.access = access
        self.tournament_names = tournaments
        super().__init__()


    # -- autocomplete ------------------------------------------------------------------------

    async def open_match_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Matches still to be played: the ones that can be moved or cancelled."""
        return await self._match_choices(interaction, current, open_only=True)

    async def any_match_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._match_choices(interaction, current, open_only=False)

    async def _match_choices(
        self, interaction: discord.Interaction, current: str, *, open_only: bool
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        found = await self._matches.suggest(interaction.guild_id, current, open_only=open_only)
        return choices((label, str(match_id)) for match_id, label in found)

    # -- commands ----------------------------------------------------------------------------

    @requires(Permission.SCHEDULE_MATCHES)
    @app_commands.command(name="schedule")
    @app_commands.describe(
        tournament="The tournament the match belongs to",
        players="Every player, mentioned with @, e.g. @Ada @Bob",
        when="When it starts, in your timezone (or with UTC/+01:00); leave out: players agree",
        title="What the match is called, e.g. Semi-final 1",
        goal="The racetime goal for this match (default: the tournament's)",
        invitational="Only invited players may join the room (default on)",
        auto_create="Open the room automatically before the match (default on)",
        round="The round it belongs to, e.g. Round 1 (scheduling deadlines go by it)",
    )
    async def schedule(
        self,
        interaction: discord.Interaction,
        tournament: str,
        players: str,
        title: str,
        when: When | None = None,
        goal: str | None = None,
        invitational: bool | None = None,
        auto_create: bool | None = None,
        round: str | None = None,
    ) -> None:
        """Schedule a match of a tournament; the players are told by DM."""
        assert interaction.guild is not None
        # Each player may be asked of Discord, one by one: answer within Discord's 3 seconds
        # first, and say what happened when it is done.
        await interaction.response.defer(ephemeral=True, thinking=True)
        members = await members_of(interaction.guild, mentioned_ids(players))
        scheduled = await self._matches.schedule(
            interaction.guild.id,
            tournament,
            [member.id for member in members],
            when,
            title,
            actor=actor_of(interaction),
            goal=goal,
            invitational=invitational,
            auto_create=auto_create,
            display_names={member.id: member.display_name for member in members},
            round=round,
        )
        await reply(interaction, scheduled_text(scheduled))

    schedule.autocomplete("tournament")(tournament_choices)

    @requires(Permission.SCHEDULE_MATCHES)
    @app_commands.command(name="reschedule")
    @app_commands.describe(match=MATCH_HELP, when=WHEN_HELP)
    async def reschedule(self, interaction: discord.Interaction, match: str, when: When) -> None:
        """Move a match to another time, before its room opens; the players are told."""
        assert interaction.guild is not None
        moved, old = await self._matches.reschedule(
            interaction.guild.id, match_id_from(match), when, actor=actor_of(interaction)
        )
        await reply(interaction, rescheduled_text(moved, old))

    reschedule.autocomplete("match")(open_match_choices)

    @requires(Permission.SCHEDULE_MATCHES)
    @app_commands.command(name="cancel")
    @app_commands.describe(match=MATCH_HELP, reason="Why it is called off; the players are told")
    async def cancel(self, interaction: discord.Interaction, match: str, reason: str) -> None:
        """Cancel a match; the players are told why."""
        assert interaction.guild is not None
        cancelled = await self._matches.cancel(
            interaction.guild.id, match_id_from(match), reason, actor=actor_of(interaction)
        )
        await reply(interaction, cancelled_text(cancelled, reason.strip()))

    cancel.autocomplete("match")(open_match_choices)

    @requires(Permission.SCHEDULE_MATCHES)
    @app_commands.command(name="import")
    @app_commands.describe(
        file="A CSV file: round, players, when (with its zone); optionally title, goal, key",
        tournament="The tournament of its matches (a `tournament` column can name others)",
    )
    async def import_(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        tournament: str | None = None,
    ) -> None:
        """Import matches from a CSV file: preview what it creates, updates or refuses."""
        assert interaction.guild is not None
        # Reading the file and every player can outlast Discord's 3 seconds: answer first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        if file.size > MAX_BYTES:
            raise UserFacingError(
                f"{file.filename} is {file.size // 1024} KB; an import takes at most "
                f"{MAX_BYTES // 1024} KB. Split the schedule into several files."
            )
        lines = read_csv(await file.read())
        members = GuildMemberNames(interaction.guild)
        plan = await self._imports.plan(
            interaction.guild.id, lines, actor=actor_of(interaction), tournament=tournament,
            members=members,
        )
        view = ImportView(
            self._imports, interaction, lines, plan, tournament=tournament, members=members,
            filename=file.filename, timeout=self.import_timeout,
        )
        await interaction.edit_original_response(embed=view.embed(), view=view)

    import_.autocomplete("tournament")(tournament_choices)

    @app_commands.command(name="list")
    @app_commands.describe(tournament="Only this tournament's matches (default: all)")
    async def list_(self, interaction: discord.Interaction, tournament: str | None = None) -> None:
        """List the upcoming matches and their rooms."""
        assert interaction.guild is not None
        # Each match is looked up in full; many of them can outlast Discord's 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        upcoming = await self._matches.list_upcoming(
            interaction.guild.id, tournament, limit=LIST_MAX + 1
        )
        more = LIST_MAX if len(upcoming) > LIST_MAX else None
        upcoming = upcoming[:LIST_MAX]
        shown = upcoming[0].tournament if tournament and upcoming else tournament
        pages = list_pages(interaction.guild, upcoming, shown, more_after=more)
        await send_pages(interaction, embed_pages_of(pages))

    list_.autocomplete("tournament")(tournament_choices)

    @app_commands.command(name="info")
    @app_commands.describe(match=MATCH_HELP)
    async def info(self, interaction: discord.Interaction, match: str) -> None:
        """Show everything about a match, including why its room has not opened yet."""
        assert interaction.guild is not None
        shown = await self._matches.info(interaction.guild.id, match_id_from(match))
        await reply(interaction, embed=info_embed(shown))

    info.autocomplete("match")(any_match_choices)

    # Organizers (the service asks ROLL_SEEDS: in Discord nobody is the room's entrant).
    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="seed")
    @app_commands.describe(
        match=MATCH_HELP,
        preset="The seed preset (default: the tournament's)",
        reroll="Replace a seed already rolled (the players get the new one)",
    )
    async def seed(
        self,
        interaction: discord.Interaction,
        match: str,
        preset: str | None = None,
        reroll: bool = False,
    ) -> None:
        """Roll the seed of a match's open room, before the start; the room and players get it."""
        assert interaction.guild is not None
        # A seed service may take seconds: answer Discord first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        rolled = await self._room_commands.roll_from_discord(
            actor_of(interaction), interaction.guild.id, match_id_from(match),
            preset=preset, reroll=reroll, request_id=f"discord:{interaction.id}",
        )
        await reply(
            interaction,
            f"Rolled ({rolled.preset}): {rolled.text}\nIt is posted in the room and set as the "
            "room's info; the players get it by DM.",
        )

    seed.autocomplete("match")(open_match_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="fpa-clear")
    @app_commands.describe(match=MATCH_HELP)
    async def fpa_clear(self, interaction: discord.Interaction, match: str) -> None:
        """Clear a match's fair-play calls once reviewed: it is no longer under review."""
        assert interaction.guild is not None
        match_id = match_id_from(match)
        cleared = await self._room_commands.clear_fpa(
            actor_of(interaction), interaction.guild.id, match_id
        )
        calls = "call" if cleared == 1 else "calls"
        await reply(interaction, f"Cleared {cleared} fair-play {calls} of match #{match_id}.")

    fpa_clear.autocomplete("match")(any_match_choices)


async def setup(bot: RaceDeskBot) -> None:
    services = bot.services
    await bot.add_cog(MatchCog(
        services.matches, services.tournaments, services.access,
        services.room_commands.commands, services.schedule_imports,
    ))
