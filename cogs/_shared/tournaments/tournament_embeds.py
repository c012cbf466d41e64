"""How tournaments, their settings and the server's roles look in Discord."""

from __future__ import annotations

from typing import Any

import discord

from cogs._shared.fitting import Field, embed_pages
from core.access import ServerRoles
from core.times.parsing import discord_timestamp
from core.tournaments.tournaments import TournamentInfo, TournamentSettings

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
}


def show_setting(key: str, value: Any) -> str:
    """One setting's value as organizers read it."""
    if key == "room_open_minutes_before":
        return f"{value} minutes before the match"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "the announcement channel" if key == "staff_channel_id" else "none"
    if key.endswith("_channel_id"):
        return f"<#{value}>"
    return f"`{value}`"


def settings_lines(settings: TournamentSettings) -> list[str]:
    return [f"**{LABELS[key]}:** {show_setting(key, getattr(settings, key))}" for key in LABELS]


def tournament_embed(tournament: TournamentInfo) -> discord.Embed:
    embed = discord.Embed(
        title=f"🏆 {tournament.name}",
        colour=discord.Colour.gold() if tournament.active else discord.Colour.light_grey(),
        description="\n".join(settings_lines(tournament.settings)),
    )
    state = "active" if tournament.active else "archived"
    embed.add_field(name="Status", value=state)
    embed.add_field(name="Created", value=discord_timestamp(tournament.created_at, "f"))
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
