"""``/tournament``: organizers create tournaments, choose their settings and seeds, list and
archive them; server admins choose the organizer and moderator roles; bot owners let a server
use a racetime category bot.

The rules (defaults, ranges, unique names, which bots) live in
``core.tournaments.tournaments``, the seeds' in ``core.seeds``; this cog parses, checks who
asks and renders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs._shared.calendars.feed_reply import feed_reply
from cogs._shared.choices import choices
from cogs._shared.pages import embed_pages_of, send_pages
from cogs._shared.permissions import ServerOnly, actor_of, requires
from cogs._shared.replies import reply
from cogs._shared.time_option import When
from cogs._shared.tournaments.choices import TournamentChoices, tournament_choices
from cogs._shared.tournaments.seed_settings import (
    SEED_OPTION_CHOICES,
    SEED_OPTION_HELP,
    given_seed_settings,
    seed_change_text,
    seed_settings_shown,
    suggested_presets,
)
from cogs._shared.tournaments.tournament_embeds import (
    LABELS,
    list_pages,
    roles_text,
    settings_lines,
    show_setting,
    tournament_embed,
)
from core.access import AccessPolicy, Permission
from core.calendars import CalendarFeedService
from core.errors import UserFacingError
from core.pages import PublicPageService
from core.racetime_bots.category_slug import normalise_category
from core.seeds import SeedService
from core.times.parsing import show_time
from core.tournaments.proposals import ProposalService
from core.tournaments.tournaments import (
    MATCH_ROOM_MINUTES_DEFAULT,
    MATCH_ROOM_MINUTES_MAX,
    MATCH_ROOM_MINUTES_MIN,
    REMINDER_MINUTES_DEFAULT,
    REMINDER_MINUTES_MAX,
    REMINDER_MINUTES_MIN,
    SCHEDULING_MODES,
    UNSET,
    TournamentService,
)

if TYPE_CHECKING:
    from bot import RaceDeskBot

CLEARABLE = {
    "default_goal": "the default goal",
    "announcement_channel_id": "the announcement channel",
    "results_channel_id": "the results channel",
    "staff_channel_id": "the staff channel",
    "reminder_channel_id": "the reminder channel",
}
STREAMING_HELP = "Rooms let in only players streaming live on Twitch (racetime's rule; default on)"
STAFF_HELP = "Where organizers are told of room problems (default: the announcement channel)"
REMINDER_HELP = (
    f"Minutes before a match its players are reminded: {REMINDER_MINUTES_MIN} to "
    f"{REMINDER_MINUTES_MAX} (default {REMINDER_MINUTES_DEFAULT})"
)
MINUTES_HELP = (
    f"Minutes before a match its room opens: {MATCH_ROOM_MINUTES_MIN} to "
    f"{MATCH_ROOM_MINUTES_MAX} (default {MATCH_ROOM_MINUTES_DEFAULT})"
)


@app_commands.guild_only()
class TournamentCog(TournamentChoices, ServerOnly, commands.GroupCog, group_name="tournament"):
    """Create and configure this server's tournaments."""

    def __init__(
        self,
        tournaments: TournamentService,
        access: AccessPolicy,
        seeds: SeedService,
        calendars: CalendarFeedService,
        proposals: ProposalService,
        pages: PublicPageService,
    ) -> None:
        self._tournaments = tournaments
        self._pages = pages
        self._seeds = seeds
        self._calendars = calendars
        self._proposals = proposals
        self.access = access
        self.tournament_names = tournaments
        super().__init__()


    # -- autocomplete ------------------------------------------------------------------------

    async def category_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        typed = current.strip().lower()
        categories = await self._tournaments.categories_for(
            interaction.guild_id, actor=actor_of(interaction)
        )
        return choices((category, category) for category in categories if typed in category)

    # -- commands ----------------------------------------------------------------------------

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="create")
    @app_commands.describe(
        name="The tournament's name, unique in this server, e.g. Winter Cup 2026",
        category="The racetime category whose bot opens the rooms, e.g. alttpr",
        auto_create_rooms="Open each match's room automatically before it starts (default off)",
        room_open_minutes_before=MINUTES_HELP,
        require_racetime_link="Refuse matches with players who have not linked racetime.gg",
        default_goal="The racetime goal for rooms when a match sets none",
        announcement_channel="Where rooms opening and problems are announced",
        results_channel="Where match results are posted",
        streaming_required=STREAMING_HELP,
        staff_channel=STAFF_HELP,
    )
    async def create(
        self,
        interaction: discord.Interaction,
        name: str,
        category: str,
        auto_create_rooms: bool | None = None,
        room_open_minutes_before: int | None = None,
        require_racetime_link: bool | None = None,
        default_goal: str | None = None,
        announcement_channel: discord.TextChannel | None = None,
        results_channel: discord.TextChannel | None = None,
        streaming_required: bool | None = None,
        staff_channel: discord.TextChannel | None = None,
    ) -> None:
        """Create a tournament in this server."""
        assert interaction.guild is not None
        created = await self._tournaments.create(
            interaction.guild.id,
            name,
            category=category,
            actor=actor_of(interaction),
            auto_create_rooms=auto_create_rooms,
            room_open_minutes_before=room_open_minutes_before,
            require_racetime_link=require_racetime_link,
            default_goal=default_goal,
            announcement_channel_id=announcement_channel.id if announcement_channel else None,
            results_channel_id=results_channel.id if results_channel else None,
            streaming_required=streaming_required,
            staff_channel_id=staff_channel.id if staff_channel else None,
        )
        await reply(
            interaction,
            f"Created **{created.name}**. Its settings:\n"
            + "\n".join(settings_lines(created.settings))
            + f"\nChange them with `/tournament settings tournament:{created.name}`.",
        )

    create.autocomplete("category")(category_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="settings")
    @app_commands.describe(
        tournament="The tournament to show or change",
        category="The racetime category whose bot opens the rooms",
        auto_create_rooms="Open each match's room automatically before it starts",
        room_open_minutes_before=MINUTES_HELP,
        require_racetime_link="Refuse matches with players who have not linked racetime.gg",
        default_goal="The racetime goal for rooms when a match sets none",
        announcement_channel="Where rooms opening and problems are announced",
        results_channel="Where match results are posted",
        streaming_required=STREAMING_HELP,
        staff_channel=STAFF_HELP,
        scheduling="Who sets a match's time (default: organizers only)",
        reminder_minutes=REMINDER_HELP,
        reminder_channel="Where reminders are posted too (default: DMs only)",
        discord_events="Show each scheduled match as a Discord event in this server",
        public="Anyone may read the tournament's page on the web (matches, results; default off)",
        clear="A setting to remove: the default goal or a channel",
    )
    @app_commands.choices(
        clear=[app_commands.Choice(name=text, value=key) for key, text in CLEARABLE.items()],
        scheduling=[app_commands.Choice(name=text, value=key)
                    for key, text in SCHEDULING_MODES.items()],
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        tournament: str,
        category: str | None = None,
        auto_create_rooms: bool | None = None,
        room_open_minutes_before: int | None = None,
        require_racetime_link: bool | None = None,
        default_goal: str | None = None,
        announcement_channel: discord.TextChannel | None = None,
        results_channel: discord.TextChannel | None = None,
        streaming_required: bool | None = None,
        staff_channel: discord.TextChannel | None = None,
        scheduling: str | None = None,
        reminder_minutes: int | None = None,
        reminder_channel: discord.TextChannel | None = None,
        discord_events: bool | None = None,
        public: bool | None = None,
        clear: str | None = None,
    ) -> None:
        """Show a tournament's settings, or change the ones you give."""
        assert interaction.guild is not None
        changes: dict[str, Any] = {
            "category": category,
            "auto_create_rooms": auto_create_rooms,
            "room_open_minutes_before": room_open_minutes_before,
            "require_racetime_link": require_racetime_link,
            "default_goal": default_goal,
            "announcement_channel_id": announcement_channel.id if announcement_channel else None,
            "results_channel_id": results_channel.id if results_channel else None,
            "streaming_required": streaming_required,
            "staff_channel_id": staff_channel.id if staff_channel else None,
            "scheduling": scheduling,
            "reminder_minutes": reminder_minutes,
            "reminder_channel_id": reminder_channel.id if reminder_channel else None,
            "discord_events": discord_events,
            "public": public,
        }
        changes = {key: value for key, value in changes.items() if value is not None}
        if clear is not None:
            if clear in changes:
                raise UserFacingError(
                    f"Either set or clear {CLEARABLE[clear]}, not both in one command."
                )
            changes[clear] = None
        if not changes:
            await self._show(interaction, tournament)
            return
        update = await self._tournaments.update_settings(
            interaction.guild.id, tournament, actor=actor_of(interaction),
            **{key: changes.get(key, UNSET) for key in LABELS},
        )
        name = update.tournament.name
        if not update.changed:
            await reply(interaction, f"Nothing changed: **{name}** already had those settings.")
            return
        lines = [
            f"**{LABELS[key]}:** {show_setting(key, old)} → {show_setting(key, new)}"
            for key, (old, new) in update.changed.items()
        ]
        if update.changed.get("public", (False, False))[1]:
            page = self._pages.page_url(interaction.guild.id, update.tournament.id)
            lines.append(f"Its page, for anyone: {page}")
        await reply(interaction, f"Updated **{name}**:\n" + "\n".join(lines))

    settings.autocomplete("tournament")(tournament_choices)
    settings.autocomplete("category")(category_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="deadline")
    @app_commands.describe(
        tournament="The tournament the round belongs to",
        round="The round, as its matches have it, e.g. Round 1",
        when="By when its players must agree on a time, in your timezone (or with UTC)",
        remove="Remove the round's deadline instead",
    )
    async def deadline(
        self, interaction: discord.Interaction, tournament: str,
        round: str,
        when: When | None = None, remove: bool = False,
    ) -> None:
        """Set by when a round's players must agree on their match times (or remove it)."""
        assert interaction.guild_id is not None
        if (when is None) != remove:
            raise UserFacingError("Give either `when` (the deadline) or `remove:True`.")
        set_ = await self._proposals.set_deadline(
            interaction.guild_id, tournament, round, when, actor=actor_of(interaction)
        )
        if set_.when is None:
            text = f"**{set_.tournament}**: {set_.round} has no scheduling deadline now."
        else:
            text = (
                f"**{set_.tournament}**: {set_.round} matches must have a time by "
                f"{show_time(set_.when)}. After it players can no longer propose one, and "
                "`/schedule overdue` lists the matches still without a time."
            )
        await reply(interaction, text)

    deadline.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="info")
    @app_commands.describe(tournament="The tournament to show (archived ones too, by name)")
    async def info(self, interaction: discord.Interaction, tournament: str) -> None:
        """Show a tournament and all its settings."""
        await self._show(interaction, tournament)

    info.autocomplete("tournament")(tournament_choices)

    async def _show(self, interaction: discord.Interaction, tournament: str) -> None:
        assert interaction.guild is not None
        actor = actor_of(interaction)
        shown = await self._tournaments.info(interaction.guild.id, tournament, actor=actor)
        seeds = await self._seeds.view(actor, interaction.guild.id, shown.name)
        page = (
            self._pages.page_url(interaction.guild.id, shown.id)
            if shown.settings.public else None
        )
        await reply(interaction, embed=tournament_embed(shown, seeds.settings, page_url=page))

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="seeds")
    @app_commands.describe(
        tournament="The tournament whose seeds to show or change",
        **(SEED_OPTION_HELP | {
            "provider": "Who rolls the seeds when a racer types !seed in a room",
            "presets": "The presets racers may ask for, e.g. open, standard",
            "default_preset": "The preset !seed alone rolls (default: the first preset)",
        }),
    )
    @app_commands.choices(**SEED_OPTION_CHOICES)
    async def seeds(
        self,
        interaction: discord.Interaction,
        tournament: str,
        provider: str | None = None,
        presets: str | None = None,
        default_preset: str | None = None,
        template: str | None = None,
        spoiler: str | None = None,
        race: bool | None = None,
    ) -> None:
        """Show a tournament's seed settings, or change the ones you give."""
        assert interaction.guild is not None
        actor = actor_of(interaction)
        given = given_seed_settings(provider, presets, default_preset, template, spoiler, race)
        if not given:
            shown = await self._seeds.view(actor, interaction.guild.id, tournament)
            await reply(interaction, seed_settings_shown(
                shown.tournament_name, shown.settings, "/tournament seeds"
            ))
            return
        change = await self._seeds.configure(actor, interaction.guild.id, tournament, **given)
        await reply(interaction, seed_change_text(change))

    seeds.autocomplete("tournament")(tournament_choices)

    @seeds.autocomplete("default_preset")
    async def preset_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """To organizers: the typed tournament's presets, else RaceDesk's ALTTPR presets."""
        actor = actor_of(interaction)
        guild_id = interaction.guild_id
        if guild_id is None or not await self.access.allows(
            actor, Permission.MANAGE_TOURNAMENTS, guild_id
        ):
            return []
        typed_tournament = getattr(interaction.namespace, "tournament", None)
        settings = None
        if isinstance(typed_tournament, str):
            try:
                settings = (await self._seeds.view(actor, guild_id, typed_tournament)).settings
            except UserFacingError:
                settings = None
        return suggested_presets(
            current, getattr(interaction.namespace, "provider", None), settings
        )

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="list")
    @app_commands.describe(archived="Include archived tournaments (default: only active ones)")
    async def list_(self, interaction: discord.Interaction, archived: bool = False) -> None:
        """List this server's tournaments."""
        assert interaction.guild is not None
        tournaments = await self._tournaments.list_tournaments(
            interaction.guild.id, actor=actor_of(interaction), include_archived=archived
        )
        pages = list_pages(interaction.guild, tournaments, archived=archived)
        await send_pages(interaction, embed_pages_of(pages))

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="archive")
    @app_commands.describe(tournament="The tournament to archive; its history is kept")
    async def archive(self, interaction: discord.Interaction, tournament: str) -> None:
        """Archive a tournament: it leaves the lists and can no longer be changed."""
        assert interaction.guild is not None
        archived = await self._tournaments.archive(
            interaction.guild.id, tournament, actor=actor_of(interaction)
        )
        await reply(
            interaction,
            f"Archived **{archived.name}**. It no longer appears in `/tournament list` or the "
            "suggestions; `/tournament info` still shows it.",
        )

    archive.autocomplete("tournament")(tournament_choices)

    @requires(Permission.MANAGE_TOURNAMENTS)
    @app_commands.command(name="calendar")
    @app_commands.describe(
        tournament="The tournament whose matches the feed lists",
        reset="Replace the feed's address (the old one stops working), e.g. if it leaked",
    )
    async def calendar(
        self, interaction: discord.Interaction, tournament: str, reset: bool = False
    ) -> None:
        """Get a tournament's private calendar feed (iCal) of all its matches."""
        assert interaction.guild is not None
        link = await self._calendars.tournament_feed(
            interaction.guild.id, tournament, actor=actor_of(interaction), reset=reset
        )
        command = f"/tournament calendar tournament:{link.name} reset:True"
        await reply(interaction, feed_reply(link, what="all its matches", reset_command=command))

    calendar.autocomplete("tournament")(tournament_choices)

    @requires(Permission.SET_ROLES)
    @app_commands.command(name="roles")
    @app_commands.describe(
        organizer="The role whose members create and configure tournaments",
        moderator="The role whose members run matches and open rooms",
        clear="A role setting to remove",
    )
    @app_commands.choices(
        clear=[
            app_commands.Choice(name="the organizer role", value="organizer"),
            app_commands.Choice(name="the moderator role", value="moderator"),
            app_commands.Choice(name="both roles", value="both"),
        ]
    )
    async def roles(
        self,
        interaction: discord.Interaction,
        organizer: discord.Role | None = None,
        moderator: discord.Role | None = None,
        clear: str | None = None,
    ) -> None:
        """Show or set the server's organizer and moderator roles."""
        assert interaction.guild is not None
        values: dict[str, Any] = {}
        if organizer is not None:
            values["organizer_role_id"] = organizer.id
        if moderator is not None:
            values["moderator_role_id"] = moderator.id
        cleared = {
            "organizer": ("organizer",),
            "moderator": ("moderator",),
            "both": ("organizer", "moderator"),
        }.get(clear or "", ())
        for which in cleared:
            if f"{which}_role_id" in values:
                raise UserFacingError(
                    f"Either set or clear the {which} role, not both in one command."
                )
            values[f"{which}_role_id"] = None
        roles = await self.access.set_roles(actor_of(interaction), interaction.guild.id, values)
        heading = "Updated the server's roles." if values else "The server's roles:"
        await reply(interaction, f"{heading}\n{roles_text(roles)}")

    @requires(Permission.MANAGE_RACETIME_BOTS)
    @app_commands.command(name="allow-bot")
    @app_commands.describe(
        category="The racetime category slug of a bot added with /racetime bot add"
    )
    async def allow_bot(self, interaction: discord.Interaction, category: str) -> None:
        """Let this server's tournaments use a racetime category bot."""
        assert interaction.guild is not None
        added = await self._tournaments.allow_bot(
            interaction.guild.id, category, actor=actor_of(interaction)
        )
        slug = normalise_category(category)
        if added:
            message = f"Tournaments in {interaction.guild.name} can now use the `{slug}` bot."
        else:
            message = f"Tournaments in {interaction.guild.name} could already use `{slug}`."
        await reply(interaction, message)


async def setup(bot: RaceDeskBot) -> None:
    services = bot.services
    await bot.add_cog(TournamentCog(
        services.tournaments, services.access, services.seeds, services.calendars,
        services.proposals, services.pages,
    ))
