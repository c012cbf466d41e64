"""How ``/open-room`` looks: the preview a moderator confirms, and what Confirm did."""

from __future__ import annotations

import discord

from cogs._shared.discord_limits import EMBED_FIELD_VALUE_MAX, MESSAGE_CONTENT_MAX
from cogs._shared.fitting import clip, fit_lines
from core.rooms.match_rooms import OpeningStatus, RoomOpening
from core.rooms.open_room import OpenRoomPreview, closed_message
from core.rooms.rules import invite_advice
from core.times.parsing import show_time
from core.tournaments.match_info import LINK_COMMAND

# What Confirm's answer gives the mentions of players not invited, and each problem.
UNLINKED_ROOM, PROBLEM_ROOM = 500, 300


def _on(value: bool) -> str:
    return "on" if value else "off"


def _clip(text: str) -> str:
    return clip(text, EMBED_FIELD_VALUE_MAX)


def settings_text(shown: OpenRoomPreview) -> str:
    settings = shown.room.settings
    return "\n".join(
        [
            f"Category: `{shown.room.category}`",
            f"Invitational: {_on(settings.invitational)} "
            + ("(only invited players may join)" if settings.invitational else "(anyone may join)"),
            f"Streaming required: {_on(settings.streaming_required)}",
            f"Start delay: {settings.start_delay} s · time limit: {settings.time_limit} h",
            f"Auto start: {_on(settings.auto_start)} · unlisted: {_on(settings.unlisted)}",
        ]
    )


def warning_text(shown: OpenRoomPreview) -> str | None:
    """Why Confirm would open nothing new (or what it would retry), if anything."""
    match_id = shown.room.match_id
    if shown.closed:
        return closed_message(match_id, shown.status)
    existing = shown.room.existing
    if existing is None:
        return None
    if existing.status is OpeningStatus.FAILED:
        return (
            f"Opening this match's room failed: {existing.error or 'no reason recorded'}. "
            "Confirm tries again."
        )
    if existing.status is OpeningStatus.ALREADY_OPENING:
        return "This match's room is being opened right now; wait for it instead."
    return f"This match already has a room: {existing.url}"


def preview_embed(shown: OpenRoomPreview, *, footer: str) -> discord.Embed:
    room = shown.room
    embed = discord.Embed(
        title=f"Open the room of match #{room.match_id}?",
        colour=discord.Colour.blurple() if shown.can_open else discord.Colour.orange(),
        description=(
            f"**{room.title}** · {room.tournament}\n"
            + (show_time(room.scheduled_at) if room.scheduled_at else "No time set")
        ),
    )
    embed.add_field(name="Goal", value=_clip(room.goal), inline=False)
    embed.add_field(name="Room settings", value=settings_text(shown), inline=False)
    invited = fit_lines(
        [f"<@{p.discord_id}> as `{p.racetime_name}`" for p in shown.invited],
        EMBED_FIELD_VALUE_MAX,
    )
    embed.add_field(
        name=f"Invited ({len(shown.invited)})",
        value=invited or "Nobody: no player of this match has linked racetime.gg.",
        inline=False,
    )
    if room.unlinked_discord_ids:
        how = f": each can link their racetime.gg account with `{LINK_COMMAND}`, then be invited."
        mentions = fit_lines([f"<@{d}>" for d in room.unlinked_discord_ids],
                             EMBED_FIELD_VALUE_MAX - len(how), sep=", ")
        embed.add_field(
            name=f"Not linked, not invited ({len(room.unlinked_discord_ids)})",
            value=mentions + how,
            inline=False,
        )
    warning = warning_text(shown)
    if warning is not None:
        embed.add_field(name="⚠️ Warning", value=_clip(warning), inline=False)
    embed.set_footer(text=footer)
    return embed


def opening_text(opening: RoomOpening) -> str:
    """What Confirm did, and what to do next when it did not open a room."""
    match_id = opening.match_id
    status = opening.status
    if status in (OpeningStatus.OPENED, OpeningStatus.ADOPTED):
        lines = [f"✅ Opened the room of match #{match_id}: {opening.url}"]
        lines.append(f"Invited on racetime.gg: {len(opening.invited)} player(s).")
        if opening.unlinked_discord_ids:
            mentions = fit_lines([f"<@{d}>" for d in opening.unlinked_discord_ids],
                                 UNLINKED_ROOM, sep=", ")
            lines.append(
                f"Not invited (not linked): {mentions}; they can link with `{LINK_COMMAND}`."
            )
        refused = [
            f"⚠️ racetime.gg would not let `{who}` in: “{why}”" for who, why in opening.refused
        ]
        after = [f"⚠️ {clip(problem, PROBLEM_ROOM)}" for problem in opening.problems]
        if opening.refused:
            after.insert(0, invite_advice(" ".join(why for _, why in opening.refused)))
        if refused:  # one line per player: the part that can grow
            room = MESSAGE_CONTENT_MAX - sum(len(line) + 1 for line in [*lines, *after])
            lines.append(fit_lines(refused, room))
        return "\n".join([*lines, *after])
    if status is OpeningStatus.ALREADY_OPEN:
        return f"Match #{match_id} already has a room, so nothing new was opened: {opening.url}"
    if status is OpeningStatus.ALREADY_OPENING:
        return (
            f"Match #{match_id}'s room is being opened right now (by the scheduler or another "
            f"moderator). `/match info match:{match_id}` shows its link in a moment."
        )
    return (
        f"❌ Could not open the room of match #{match_id}: {opening.error or 'no reason given'}. "
        "Check the category's bot with `/racetime status`, then try `/open-room` again."
    )
