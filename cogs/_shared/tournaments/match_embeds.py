"""How matches look in Discord: the replies of ``/match`` and its list and info embeds."""

from __future__ import annotations

from datetime import datetime

import discord

from cogs._shared.discord_limits import (
    EMBED_FIELD_VALUE_MAX,
    EMBED_TITLE_MAX,
    MESSAGE_CONTENT_MAX,
)
from cogs._shared.fitting import Field, clip, embed_pages, fit_lines
from core.race_time import format_race_time
from core.rooms.rules import invite_advice
from core.times.parsing import discord_timestamp, show_time
from core.tournaments.match_info import MatchInfo, PlayerInfo, RaceStatus, RoomStatus

STATUS_TEXT = {
    RaceStatus.SCHEDULED: "scheduled",
    RaceStatus.ROOM_OPEN: "room open",
    RaceStatus.IN_PROGRESS: "in progress",
    RaceStatus.FINISHED: "finished",
    RaceStatus.CANCELLED: "cancelled",
}
GOAL_FROM = {"match": "", "tournament": " (the tournament's default)", "default": " (default)"}
RESULT_TEXT = {"dnf": "forfeit", "dq": "disqualified"}


# A match whose players agree on a time (issue 25) has none until they do.
NO_TIME_YET = "no time yet"

# A race that is over is shown at its time, not "in 30 minutes" (it may have run early).
OVER = (RaceStatus.FINISHED, RaceStatus.CANCELLED)


def when_text(match: MatchInfo) -> str:
    if match.scheduled_at is None:
        return NO_TIME_YET
    if match.status in OVER:
        return discord_timestamp(match.scheduled_at, "F")
    return show_time(match.scheduled_at)


def room_text(match: MatchInfo) -> str:
    """The room's state in a few words, with its link when there is one."""
    room = match.room
    if room.status is RoomStatus.NONE:
        if match.auto_create and match.opens_at is not None:
            return f"no room yet (opens {discord_timestamp(match.opens_at, 'R')})"
        if match.scheduled_at is None:
            return "no room until the match has a time"
        return "no room yet (opened by a moderator)"
    text = room.status.value
    return f"{text}: {room.url}" if room.url else text


# The room a message gives each list of players in it (a match can have many), so that the
# message stays within Discord's 2,000 characters with its other lines at their longest.
PLAYERS_ROOM = 400


def mentions(players: tuple[PlayerInfo, ...], limit: int = PLAYERS_ROOM) -> str:
    """``@a, @b``: a list of players (not opponents), at most ``limit`` characters."""
    return fit_lines([f"<@{p.discord_id}>" for p in players], limit, sep=", ")


def players_text(
    players: tuple[PlayerInfo, ...], *, with_links: bool = False,
    limit: int = EMBED_FIELD_VALUE_MAX,
) -> str:
    """``@a vs @b``, or one line per player with their racetime account (``with_links``);
    at most ``limit`` characters, the players left out counted on the last line."""
    if not with_links:
        return fit_lines([f"<@{p.discord_id}>" for p in players], limit, sep=" vs ")
    return fit_lines(
        [
            f"<@{p.discord_id}> · racetime: "
            + (f"`{p.racetime_name or p.racetime_id}`" if p.linked else "not linked")
            for p in players
        ],
        limit,
    )


def not_invited_text(match: MatchInfo) -> str:
    """Who racetime refused to invite, in its words, and what to do."""
    lines = [f"<@{p.discord_id}>: racetime.gg said “{p.invite_error}”" for p in match.not_invited]
    refusals = " ".join(p.invite_error or "" for p in match.not_invited)
    advice = invite_advice(refusals)
    return fit_lines(lines, EMBED_FIELD_VALUE_MAX - len(advice) - 1) + "\n" + advice


def scheduled_text(match: MatchInfo) -> str:
    lines = [
        f"Scheduled match **#{match.id}** of **{match.tournament}**: **{match.title}**, "
        f"{when_text(match)}.",
        f"**Players:** {players_text(match.players, limit=PLAYERS_ROOM)}",
        f"**Goal:** {match.goal}{GOAL_FROM[match.goal_from]}",
        f"**Room:** {_room_plan(match)}",
    ]
    if match.unlinked:
        lines.append(
            f"Not linked to racetime.gg yet: {mentions(match.unlinked)}; they can link "
            "with `/link-racetime` to be invited to the room."
        )
    lines.append("The players are told by DM.")
    return fit_lines(lines, MESSAGE_CONTENT_MAX)


def rescheduled_text(match: MatchInfo, old: datetime | None) -> str:
    from_text = f" from {show_time(old)}" if old is not None else ""
    return (
        f"Moved match **#{match.id}** (**{match.title}**, {match.tournament}){from_text} to "
        f"{when_text(match)}. The players are told by DM."
    )


def cancelled_text(match: MatchInfo, reason: str) -> str:
    text = (
        f"Cancelled match **#{match.id}** (**{match.title}**, {match.tournament}). "
        f"The players are told why by DM: {reason}"
    )
    if match.room.url and match.room.status in (RoomStatus.OPEN, RoomStatus.IN_PROGRESS):
        text += f"\nIts racetime room stays open: {match.room.url}"
    return text


def _room_plan(match: MatchInfo) -> str:
    invitational = "invitational" if match.invitational else "open to anyone"
    if match.scheduled_at is None:
        return (
            f"{invitational}; none until the players agree on a time (`/schedule propose`)"
        )
    if match.auto_create and match.opens_at is not None:
        return (
            f"{invitational}, opens {match.room_open_minutes_before} minutes before, "
            f"{show_time(match.opens_at)}"
        )
    whose = "this match" if match.auto_create_match is False else match.tournament
    return f"{invitational}; auto-create is off for {whose}, a moderator opens it with `/open-room`"


MATCHES_PER_PAGE = 10


def list_pages(
    guild: discord.Guild, matches: list[MatchInfo], tournament: str | None, *,
    more_after: int | None = None,
) -> list[discord.Embed]:
    """``/match list``: the matches, a few to a page. ``more_after``: there are more upcoming
    matches than these first ones."""
    where = clip(tournament or guild.name, 100)
    footer = "Everything about one match: /match info"
    if more_after is not None:
        footer = (
            f"The {more_after} soonest; name a tournament to see its own, or find any match "
            "with /match info."
        )

    def page() -> discord.Embed:
        embed = discord.Embed(
            title=f"📅 Upcoming matches in {where}", colour=discord.Colour.blurple()
        )
        if not matches:
            embed.description = "None scheduled. Organizers schedule one with `/match schedule`."
        else:
            embed.set_footer(text=footer)
        return embed

    return embed_pages(page, [_list_field(match) for match in matches],
                       fields_per_page=MATCHES_PER_PAGE)


def _list_field(match: MatchInfo) -> Field:
    head = f"{match.tournament} · {when_text(match)}"
    room = f"**Room:** {room_text(match)}"
    room_left = EMBED_FIELD_VALUE_MAX - len(head) - len(room) - 2
    return Field.of(
        f"#{match.id} · {match.title}",
        f"{head}\n{players_text(match.players, limit=room_left)}\n{room}",
    )


def info_embed(match: MatchInfo) -> discord.Embed:
    colour = discord.Colour.light_grey() if match.is_closed else discord.Colour.blurple()
    embed = discord.Embed(
        title=clip(f"#{match.id} · {match.title}", EMBED_TITLE_MAX),
        description=f"**{match.tournament}** · {when_text(match)}",
        colour=colour,
    )
    embed.add_field(name="Status", value=STATUS_TEXT[match.status])
    if match.opens_at is not None:
        embed.add_field(
            name="Room opens",
            value=f"{discord_timestamp(match.opens_at, 'F')} "
            f"({match.room_open_minutes_before} min before)",
        )
    embed.add_field(name="Goal", value=clip(f"{match.goal}{GOAL_FROM[match.goal_from]}",
                                            EMBED_FIELD_VALUE_MAX))
    embed.add_field(name="Invitational", value="yes" if match.invitational else "no")
    embed.add_field(name="Auto-create room", value=_auto_create(match))
    embed.add_field(
        name="Players", value=players_text(match.players, with_links=True), inline=False
    )
    embed.add_field(name="Room", value=clip(room_text(match), EMBED_FIELD_VALUE_MAX),
                    inline=False)
    if match.not_invited and not match.is_closed:
        embed.add_field(
            name="⚠️ Not let into the room", value=not_invited_text(match), inline=False
        )
    if match.room_reason:
        embed.add_field(name="Why no room yet",
                        value=clip(match.room_reason, EMBED_FIELD_VALUE_MAX), inline=False)
    if match.seed:
        embed.add_field(name="Seed", value=clip(match.seed, EMBED_FIELD_VALUE_MAX), inline=False)
    if match.breaks:
        embed.add_field(name="Breaks", value=clip(match.breaks, EMBED_FIELD_VALUE_MAX))
    if match.fpa:
        embed.add_field(
            name="⚖️ Under review (fair-play agreement)" if match.under_review
            else "Fair-play calls (cleared)",
            value=fit_lines([call.line() for call in match.fpa], EMBED_FIELD_VALUE_MAX),
            inline=False,
        )
    if match.status is RaceStatus.FINISHED:
        embed.add_field(name="Results", value=results_text(match.players), inline=False)
    return embed


def _auto_create(match: MatchInfo) -> str:
    if not match.tournament_auto_create:
        return "off (for the tournament)"
    if match.auto_create_match is False:
        return "off (for this match)"
    return "on"


def results_text(players: tuple[PlayerInfo, ...]) -> str:
    ranked = sorted(players, key=lambda p: (p.place is None, p.place or 0))
    lines = []
    for player in ranked:
        if player.place is not None:
            time = f" · {format_race_time(player.finish_time)}" if player.finish_time else ""
            lines.append(f"{player.place}. <@{player.discord_id}>{time}")
        else:
            outcome = RESULT_TEXT.get(player.status, player.status.replace("_", " "))
            lines.append(f"— <@{player.discord_id}> · {outcome}")
    return fit_lines(lines, EMBED_FIELD_VALUE_MAX) or "No results recorded."

