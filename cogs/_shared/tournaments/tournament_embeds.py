"""How tournaments, their settings and the server's roles look in Discord."""

from __future__ import annotations

from typing import Any

import discord

from cogs._shared.discord_limits import EMBED_FIELD_VALUE_MAX
from cogs._shared.fitting import Field, clip, embed_pages, fit_lines
from core.access import ServerRoles
from core.seeds import SeedSettings
from core.times.parsing import discord_timestamp
from core.tournaments.tournaments import SCHEDULING_MODES, TournamentInfo, TournamentSettings

LABELS = {
    "category": "racetime category",
    "auto_create_rooms": "Auto-create rooms",
    "room_open_minutes_before": "Rooms open",
    "require_racetime_link": "Require racetime link",
    "default_goal": "Default goal",
    "announcement_channel_id": "Announcement channel",
    "results_channel_id": "Results channel",
    "staff_channel_id": "Staff channel",
    "streaming_required": "Streaming required",
    "scheduling": "Who schedules matches",
    "reminder_minutes": "Reminders",
    "reminder_channel_id": "Reminder channel",
    "discord_events": "Discord events",
    "public": "Public page",
}


def show_setting(key: str, value: Any) -> str:
    """One setting's value as organizers read it."""
    if key == "room_open_minutes_before":
        return f"{value} minutes before the match"
    if key == "reminder_minutes":
        return f"{value} minutes before the match"
    if key == "scheduling":
        return SCHEDULING_MODES.get(str(value), str(value))
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "the announcement channel" if key == "staff_channel_id" else "none"
    if key.endswith("_channel_id"):
        return f"<#{value}>"
    return f"`{value}`"


def settings_lines(settings: TournamentSettings) -> list[str]:
    return [f"**{LABELS[key]}:** {show_setting(key, getattr(settings, key))}" for key in LABELS]


def tournament_embed(
    tournament: TournamentInfo, seeds: SeedSettings | None = None, *, page_url: str | None = None
) -> discord.Embed:
    """``/tournament info``; ``page_url``: its public page, when it is public."""
    embed = discord.Embed(
        title=f"🏆 {tournament.name}",
        colour=discord.Colour.gold() if tournament.active else discord.Colour.light_grey(),
        description="\n".join(settings_lines(tournament.settings)),
    )
    state = "active" if tournament.active else "archived"
    embed.add_field(name="Status", value=state)
    embed.add_field(name="Created", value=discord_timestamp(tournament.created_at, "f"))
    if seeds is not None:
        embed.add_field(name="Seeds", value=seeds_text(seeds), inline=False)
    if page_url is not None:
        embed.add_field(name="Public page", value=clip(page_url, EMBED_FIELD_VALUE_MAX),
                        inline=False)
    if tournament.active:
        embed.set_footer(
            text=f"Change a setting: /tournament settings tournament:{tournament.name}"
        )
    return embed


TOURNAMENTS_PER_PAGE = 15


def list_pages(
    guild: discord.Guild, tournaments: list[TournamentInfo], *, archived: bool
) -> list[discord.Embed]:
    """``/tournament list``, page by page."""

    def page() -> discord.Embed:
        embed = discord.Embed(title=f"🏆 Tournaments in {guild.name}", colour=discord.Colour.gold())
        if not tournaments:
            embed.description = (
                "None yet. Create one with `/tournament create`."
                if not archived
                else "None, active or archived. Create one with `/tournament create`."
            )
        return embed

    fields = []
    for tournament in tournaments:
        settings = tournament.settings
        rooms = (
            f"rooms open {settings.room_open_minutes_before} min before"
            if settings.auto_create_rooms else "rooms opened by hand"
        )
        name = tournament.name + ("" if tournament.active else " (archived)")
        fields.append(Field.of(name, f"`{settings.category}` · {rooms}"))
    return embed_pages(page, fields, fields_per_page=TOURNAMENTS_PER_PAGE)


def roles_text(roles: ServerRoles) -> str:
    organizer = f"<@&{roles.organizer_role_id}>" if roles.organizer_role_id else "none"
    moderator = f"<@&{roles.moderator_role_id}>" if roles.moderator_role_id else "none"
    return (
        f"**Organizer role:** {organizer} (create and configure tournaments)\n"
        f"**Moderator role:** {moderator} (run matches and open rooms)\n"
        "Members with Manage Server can always do both. Discord shows the organizers' and "
        "moderators' commands only to them until these roles are allowed in Server Settings → "
        "Integrations → RaceDesk."
    )


# -- seeds -------------------------------------------------------------------------------------

SEED_LABELS = {
    "provider": "Seeds",
    "presets": "Presets",
    "default_preset": "Default preset",
    "template": "Template",
    "spoiler": "Spoiler log",
    "race": "Race mode",
}
# The choices of ``/tournament seeds``.
SEED_PROVIDER_CHOICES = {
    "alttpr": "ALTTPR: rolled on alttpr.com",
    "template": "A template of yours (a URL or text)",
    "none": "None: rooms roll no seeds",
}
SPOILER_CHOICES = {
    "off": "Off: no spoiler log",
    "on": "On: the seed's page offers the spoiler log (unless race mode)",
    "generate": "Generated, not shown",
}
PRESETS_SHOWN = 12  # of at most 25: a change's old and new lists fit one message
SPOILER_WORDS = {
    "off": "off",
    "on": "on (the seed's page offers it)",
    "generate": "generated, not shown",
}


_LOOKS_LIKE_A_BACKTICK = "\u02cb"  # MODIFIER LETTER GRAVE ACCENT


def _code(text: str) -> str:
    """``text`` as inline code (a backtick inside would end it early)."""
    return "`" + text.replace("`", _LOOKS_LIKE_A_BACKTICK) + "`"


def show_seed_setting(key: str, value: Any) -> str:
    """One seed setting's value as organizers read it."""
    if key == "provider":
        return {"alttpr": "ALTTPR (alttpr.com)", "template": "from a template"}.get(
            value, "none"
        )
    if key == "presets":
        names = [_code(name) for name in value[:PRESETS_SHOWN]]
        more = len(value) - PRESETS_SHOWN
        return (", ".join(names) or "none") + (f" and {more} more" if more > 0 else "")
    if key == "spoiler":
        return SPOILER_WORDS.get(value, str(value))
    if key == "race":
        return "on (spoiler log and settings hidden)" if value else "off"
    if value is None:
        return "the first preset" if key == "default_preset" else "none"
    return _code(str(value))


def seed_lines(seeds: SeedSettings) -> list[str]:
    """The seed settings that matter for the chosen provider, one line each."""
    if seeds.provider is None:
        return [f"**{SEED_LABELS['provider']}:** none: rooms roll no seeds"]
    keys = ["provider", "presets", "default_preset"]
    keys += ["spoiler", "race"] if seeds.provider == "alttpr" else ["template"]
    return [f"**{SEED_LABELS[key]}:** {show_seed_setting(key, getattr(seeds, key))}"
            for key in keys]


def seeds_text(seeds: SeedSettings) -> str:
    """The seed settings within one embed field."""
    return fit_lines([clip(line, 400) for line in seed_lines(seeds)], EMBED_FIELD_VALUE_MAX)
