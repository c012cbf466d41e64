"""How async tournaments and live races look in Discord: replies, lists and info embeds."""

from __future__ import annotations

import discord

from cogs._shared.discord_limits import (
    EMBED_FIELD_VALUE_MAX,
    EMBED_TITLE_MAX,
    MESSAGE_CONTENT_MAX,
)
from cogs._shared.fitting import Field, and_more, clip, embed_pages, fit_lines, page_lines
from cogs._shared.tournaments.match_embeds import OVER
from core.live_races.async_tournaments import AsyncTournamentInfo, ParticipantInfo, PoolInfo
from core.live_races.live_races import Eligibility, LiveRaceInfo, RaceRun
from core.rooms.match_rooms import OpeningStatus, RoomOpening
from core.times.parsing import discord_timestamp, show_time
from core.tournaments.match_results import STATUS_WORDS, format_race_time

NO_POOLS = "No pools yet: `/async pool add` adds one."


def headed_pages(heading: str, lines: list[str]) -> list[str]:
    """``lines`` on as many messages as they need, each under ``heading``."""
    room = MESSAGE_CONTENT_MAX - len(heading) - 1
    return [f"{heading}\n{page}" for page in page_lines(lines, room)]


def tournament_embed(info: AsyncTournamentInfo, *, page_url: str | None = None) -> discord.Embed:
    """``page_url``: its public page, when it has one."""
    state = "open" if info.active else "closed"
    embed = discord.Embed(title=f"{info.name} (async, {state})", colour=discord.Colour.blurple())
    embed.add_field(name="Category", value=f"`{info.category}`")
    embed.add_field(name="Goal", value=info.goal or "the live race's, or Beat the game")
    embed.add_field(name="Participants", value=str(info.participants))
    pools = fit_lines(
        pool_lines(list(info.pools)), EMBED_FIELD_VALUE_MAX,
        more=and_more(f"`/async pool list tournament:{info.name}` lists them all"),
    )
    embed.add_field(name="Pools", value=pools or NO_POOLS, inline=False)
    embed.add_field(
        name="Public page",
        value=page_url or f"none (`/async page tournament:{info.name} public:True`)",
        inline=False,
    )
    return embed


def pool_lines(pools: list[PoolInfo]) -> list[str]:
    return [
        f"**{p.name}**: {p.runs} run(s)" + (f" · {p.description}" if p.description else "")
        for p in pools
    ]


def pools_pages(tournament: str, pools: list[PoolInfo]) -> list[str]:
    """``/async pool list``: the tournament's pools, page by page."""
    if not pools:
        return [f"**{tournament}**\n{NO_POOLS}"]
    return headed_pages(f"**{tournament}**", pool_lines(pools))


def tournaments_pages(infos: list[AsyncTournamentInfo]) -> list[str]:
    """``/async list``, page by page."""
    if not infos:
        return ["No async tournaments here yet: `/async create` makes one."]
    return page_lines(
        [
            f"**{i.name}** · `{i.category}` · {len(i.pools)} pool(s) · {i.participants} "
            f"participant(s){'' if i.active else ' · closed'}"
            for i in infos
        ],
        MESSAGE_CONTENT_MAX,
    )


def participants_pages(tournament: str, people: list[ParticipantInfo]) -> list[str]:
    """``/async participants``: one line per participant, page by page."""
    if not people:
        return [f"**{tournament}** has no participants yet: players join with `/async join`."]
    heading = f"**{tournament}**: {sum(p.active for p in people)} participant(s)"
    lines = []
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
    return headed_pages(heading, lines)


def run_text(status: str, finish_time: object) -> str:
    if finish_time is not None:
        # (ignored below: a run's stored finish time (a timedelta))
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


RACES_PER_PAGE = 10


def list_pages(
    races: list[LiveRaceInfo], tournament: str | None, *, more_after: int | None = None
) -> list[discord.Embed]:
    """``/liverace list``, a few races to a page. ``more_after``: there are more races than
    these latest ones."""
    title = clip(f"Live races of {tournament}" if tournament else "Live races", EMBED_TITLE_MAX)

    def page() -> discord.Embed:
        embed = discord.Embed(title=title, colour=discord.Colour.blurple())
        if not races:
            embed.description = "No live races yet: `/liverace create` schedules one."
        if more_after is not None:
            embed.set_footer(
                text=f"The latest {more_after}; name a tournament to see its own, or find any "
                "race with /liverace info."
            )
        return embed

    fields = [
        Field.of(f"#{race.id}", race_line(race) + (f"\n{race.room_url}" if race.room_url else ""))
        for race in races
    ]
    return embed_pages(page, fields, fields_per_page=RACES_PER_PAGE)


def info_embed(race: LiveRaceInfo) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"Live race #{race.id} · {race.tournament}", EMBED_TITLE_MAX),
        colour=discord.Colour.blurple(),
    )
    embed.description = race.status_text
    embed.add_field(name="Pool", value=race.pool or "none")
    embed.add_field(name="When", value=when_text(race))
    embed.add_field(name="Goal", value=clip(race.goal, EMBED_FIELD_VALUE_MAX))
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
        embed.add_field(name="Room problem", value=clip(race.room_error, EMBED_FIELD_VALUE_MAX),
                        inline=False)
    if race.cancelled_reason:
        embed.add_field(name="Cancelled", value=clip(race.cancelled_reason, EMBED_FIELD_VALUE_MAX),
                        inline=False)
    if race.runs:
        embed.add_field(name="Runs recorded", value=runs_text(race.runs), inline=False)
    return embed


def runs_text(runs: tuple[RaceRun, ...]) -> str:
    return fit_lines(
        [
            f"{run.place}. {run.name} {run_text(run.status, run.finish_time)}"
            if run.place is not None else f"{run.name}: {run_text(run.status, run.finish_time)}"
            for run in runs
        ],
        EMBED_FIELD_VALUE_MAX,
    )


MENTIONS_PER_LINE = 10


def eligible_pages(race: LiveRaceInfo, people: list[Eligibility]) -> list[str]:
    """``/liverace eligible``: who may race, then who may not and why, page by page."""
    heading = (f"**Live race #{race.id}** of **{race.tournament}**"
               + (f", pool **{race.pool}**" if race.pool else ""))
    yes = [f"<@{p.discord_id}>" for p in people if p.reason is None]
    no = [p for p in people if p.reason is not None]
    chunks = [
        ", ".join(yes[start:start + MENTIONS_PER_LINE])
        for start in range(0, len(yes), MENTIONS_PER_LINE)
    ] or ["nobody yet"]
    lines = [f"**Eligible ({len(yes)}):** {chunks[0]}", *chunks[1:]]
    if no:
        lines.append(f"**Not eligible ({len(no)}):**")
        lines += [f"<@{p.discord_id}>: {p.reason}" for p in no]
    return headed_pages(heading, lines)


def opening_text(opening: RoomOpening) -> str:
    """What ``/liverace open`` did."""
    race_id, status = opening.match_id, opening.status
    if status in (OpeningStatus.OPENED, OpeningStatus.ADOPTED):
        lines = [f"✅ Opened the room of live race #{race_id}: {opening.url}",
                 f"Invited on racetime.gg: {len(opening.invited)} eligible participant(s)."]
        return fit_lines(lines + [f"⚠️ {problem}" for problem in opening.problems],
                         MESSAGE_CONTENT_MAX)
    if status is OpeningStatus.ALREADY_OPEN:
        return f"Live race #{race_id} already has a room: {opening.url}"
    if status is OpeningStatus.ALREADY_OPENING:
        return f"Live race #{race_id}'s room is being opened right now."
    return (
        f"❌ Could not open the room of live race #{race_id}: "
        f"{opening.error or 'no reason given'}. Check the category's bot with "
        "`/racetime status`, then try `/liverace open` again."
    )
