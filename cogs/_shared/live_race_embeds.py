"""How async tournaments and live races look in Discord: replies, lists and info embeds."""

from __future__ import annotations

import discord

from cogs._shared.match_embeds import OVER
from core.services.async_tournaments import AsyncTournamentInfo, ParticipantInfo, PoolInfo
from core.services.live_races import Eligibility, LiveRaceInfo, RaceRun
from core.services.match_results import STATUS_WORDS, format_race_time
from core.services.match_rooms import OpeningStatus, RoomOpening
from core.services.time_input import discord_timestamp, show_time

FIELDS_MAX = 25  # Discord's limit of fields per embed


def tournament_embed(info: AsyncTournamentInfo) -> discord.Embed:
    state = "open" if info.active else "closed"
    embed = discord.Embed(title=f"{info.name} (async, {state})", colour=discord.Colour.blurple())
    embed.add_field(name="Category", value=f"`{info.category}`")
    embed.add_field(name="Goal", value=info.goal or "the live race's, or Beat the game")
    embed.add_field(name="Participants", value=str(info.participants))
    embed.add_field(name="Pools", value=pools_text(list(info.pools)), inline=False)
    return embed


def pools_text(pools: list[PoolInfo]) -> str:
    if not pools:
        return "No pools yet: `/async pool add` adds one."
    return "\n".join(
        f"**{p.name}**: {p.runs} run(s)" + (f" · {p.description}" if p.description else "")
        for p in pools
    )


def tournaments_list(infos: list[AsyncTournamentInfo]) -> str:
    if not infos:
        return "No async tournaments here yet: `/async create` makes one."
    return "\n".join(
        f"**{i.name}** · `{i.category}` · {len(i.pools)} pool(s) · {i.participants} "
        f"participant(s){'' if i.active else ' · closed'}"
        for i in infos
    )


def participants_text(tournament: str, people: list[ParticipantInfo]) -> str:
    if not people:
        return f"**{tournament}** has no participants yet: players join with `/async join`."
    lines = [f"**{tournament}**: {sum(p.active for p in people)} participant(s)"]
    for person in people:
        line = f"<@{person.discord_id}>"
        line += f" ({person.racetime_name})" if person.racetime_name else " (not linked)"
        if person.pool:
            line += f" · pool {person.pool} only"
        if person.runs:
            line += " · runs: " + ", ".join(
                f"{run.pool or 'live race'} {run_text(run.status, run.finish_time)}"
                for run in person.runs
            )
        if not person.active:
            line += " · left"
        lines.append(line)
    return "\n".join(lines)


def run_text(status: str, finish_time: object) -> str:
    if finish_time is not None:
        return format_race_time(finish_time)  # type: ignore[arg-type]
    return STATUS_WORDS.get(status, status)


def created_text(race: LiveRaceInfo) -> str:
    what = f"pool **{race.pool}**" if race.pool else "no pool"
    return (
        f"Scheduled live race **#{race.id}** of **{race.tournament}** ({what}): "
        f"{show_time(race.scheduled_at)}.\n"
        f"**Goal:** {race.goal}\n"
        f"**Room:** {'invitational' if race.invitational else 'open to all'}, opens "
        f"{race.room_open_minutes_before} minutes before, {show_time(race.opens_at)}\n"
        f"**Eligible now:** {race.eligible} participant(s); they are told by DM."
    )


def when_text(race: LiveRaceInfo) -> str:
    """A race that is over at its time, not "in 15 minutes" (it may have run early)."""
    if race.status in OVER:
        return discord_timestamp(race.scheduled_at, "F")
    return show_time(race.scheduled_at)


def race_line(race: LiveRaceInfo) -> str:
    pool = race.pool or "no pool"
    return f"{race.status_text} · {race.tournament} · {pool} · {when_text(race)}"


def list_embed(races: list[LiveRaceInfo], tournament: str | None) -> discord.Embed:
    title = f"Live races of {tournament}" if tournament else "Live races"
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    if not races:
        embed.description = "No live races yet: `/liverace create` schedules one."
    for race in races[:FIELDS_MAX]:
        value = race_line(race)
        if race.room_url:
            value += f"\n{race.room_url}"
        embed.add_field(name=f"#{race.id}", value=value, inline=False)
    return embed


def info_embed(race: LiveRaceInfo) -> discord.Embed:
    embed = discord.Embed(
        title=f"Live race #{race.id} · {race.tournament}", colour=discord.Colour.blurple()
    )
    embed.description = race.status_text
    embed.add_field(name="Pool", value=race.pool or "none")
    embed.add_field(name="When", value=when_text(race))
    embed.add_field(name="Goal", value=race.goal)
    embed.add_field(
        name="Room",
        value=race.room_url or (
            f"opens {race.room_open_minutes_before} minutes before, "
            f"{show_time(race.opens_at)}"
        ),
        inline=False,
    )
    embed.add_field(name="Eligible", value=f"{race.eligible} participant(s)")
    if race.room_error:
        embed.add_field(name="Room problem", value=race.room_error[:1000], inline=False)
    if race.cancelled_reason:
        embed.add_field(name="Cancelled", value=race.cancelled_reason, inline=False)
    if race.runs:
        embed.add_field(name="Runs recorded", value=runs_text(race.runs), inline=False)
    return embed


def runs_text(runs: tuple[RaceRun, ...]) -> str:
    return "\n".join(
        f"{run.place}. {run.name} {run_text(run.status, run.finish_time)}"
        if run.place is not None else f"{run.name}: {run_text(run.status, run.finish_time)}"
        for run in runs
    )[:1024]


def eligible_text(race: LiveRaceInfo, people: list[Eligibility]) -> str:
    lines = [f"**Live race #{race.id}** of **{race.tournament}**"
             + (f", pool **{race.pool}**" if race.pool else "")]
    yes = [p for p in people if p.reason is None]
    no = [p for p in people if p.reason is not None]
    lines.append(f"**Eligible ({len(yes)}):** " + (
        ", ".join(f"<@{p.discord_id}>" for p in yes) or "nobody yet"
    ))
    if no:
        lines.append(f"**Not eligible ({len(no)}):**")
        lines += [f"<@{p.discord_id}>: {p.reason}" for p in no]
    return "\n".join(lines)


def opening_text(opening: RoomOpening) -> str:
    """What ``/liverace open`` did."""
    race_id, status = opening.match_id, opening.status
    if status in (OpeningStatus.OPENED, OpeningStatus.ADOPTED):
        lines = [f"✅ Opened the room of live race #{race_id}: {opening.url}",
                 f"Invited on racetime.gg: {len(opening.invited)} eligible participant(s)."]
        return "\n".join(lines + [f"⚠️ {problem}" for problem in opening.problems])
    if status is OpeningStatus.ALREADY_OPEN:
        return f"Live race #{race_id} already has a room: {opening.url}"
    if status is OpeningStatus.ALREADY_OPENING:
        return f"Live race #{race_id}'s room is being opened right now."
    return (
        f"❌ Could not open the room of live race #{race_id}: "
        f"{opening.error or 'no reason given'}. Check the category's bot with "
        "`/racetime status`, then try `/liverace open` again."
    )
