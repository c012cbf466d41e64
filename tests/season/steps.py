"""The season's steps, each as people (and racetime, and time) would take it: organizers, the
bot owner and players through the real CommandTree, racers on the fake racetime server, the
clock moved by the machine. Each step updates the model from what the database then says."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import discord
from hypothesis import event

from cogs._shared.tree import APOLOGY
from core.errors import UserFacingError
from fake_racetime.state import RaceActionError
from rehearsal.slash import SlashResult
from tests.season import reads
from tests.season.model import MatchModel, SeasonModel, TournamentModel
from tests.season.world import SeasonWorld, Server

log = logging.getLogger(__name__)

# What the seasons of this process got to (printed by the test, for ``pytest -s``): a season
# that never finishes a race or restarts RaceDesk checks little.
COVERED: Counter[str] = Counter()


def covered(what: str) -> None:
    event(what)
    COVERED[what] += 1


async def slash(
    world: SeasonWorld, command: str, member: discord.Member, **options: Any
) -> SlashResult:
    """``/command`` through the real CommandTree; an unexpected error (the apology) fails."""
    result = await world.sim.slash(command, member=member, options=options)
    assert APOLOGY not in result.text, f"/{command} {options} failed on RaceDesk's side"
    return result


def stamp(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}>"


# -- tournaments -------------------------------------------------------------------------------


async def create_tournament(
    world: SeasonWorld, model: SeasonModel, server: Server, category: str, *,
    auto_rooms: bool, minutes: int,
) -> None:
    name = f"{server.marker} Cup {model.next_number()}"
    result = await slash(
        world, "tournament create", server.organizer, name=name, category=category,
        auto_create_rooms=auto_rooms, room_open_minutes_before=minutes,
        results_channel=server.results,
    )
    found = await reads.tournament_id(world, server.id, name)
    may = (category, server.id) in model.assigned
    assert (found is not None) == may, (
        f"{name} in {category}: created={found is not None}, bot serves the server={may}: "
        f"{result.text}"
    )
    if found is not None:
        model.tournaments[found[0]] = TournamentModel(found[0], server.id, name, category)


async def archive_tournament(world: SeasonWorld, model: SeasonModel, tournament: TournamentModel,
                             ) -> None:
    server = world.server_of(tournament.guild_id)
    result = await slash(world, "tournament archive", server.organizer, tournament=tournament.name)
    found = await reads.tournament_id(world, server.id, tournament.name)
    assert found is not None and not found[1], f"not archived: {result.text}"
    tournament.archived = True


async def change_settings(
    world: SeasonWorld, tournament: TournamentModel, *, auto_rooms: bool, minutes: int
) -> None:
    server = world.server_of(tournament.guild_id)
    await slash(
        world, "tournament settings", server.organizer, tournament=tournament.name,
        auto_create_rooms=auto_rooms, room_open_minutes_before=minutes,
    )


# -- matches -----------------------------------------------------------------------------------


async def schedule_match(
    world: SeasonWorld, model: SeasonModel, tournament: TournamentModel,
    players: tuple[int, int], minutes_ahead: int,
) -> None:
    server = world.server_of(tournament.guild_id)
    title = f"{server.marker} Match {model.next_number()}"
    when = world.clock.now() + timedelta(minutes=minutes_ahead)
    pair = [server.players[i] for i in players]
    result = await slash(
        world, "match schedule", server.organizer, tournament=tournament.name,
        players=" ".join(member.mention for member in pair), when=stamp(when), title=title,
    )
    match = await reads.match_titled(world, title)
    assert (match is not None) == (not tournament.archived), (
        f"{title} of {tournament.name} (archived: {tournament.archived}): {result.text}"
    )
    if match is not None and match.id is not None:
        model.matches[match.id] = MatchModel(
            match.id, server.id, tournament.id, title, tuple(m.id for m in pair)
        )


async def reschedule_match(world: SeasonWorld, match: MatchModel, minutes_ahead: int) -> None:
    server = world.server_of(match.guild_id)
    when = world.clock.now() + timedelta(minutes=minutes_ahead)
    await slash(world, "match reschedule", server.organizer, match=str(match.id), when=stamp(when))


async def cancel_match(world: SeasonWorld, model: SeasonModel, match: MatchModel) -> None:
    server = world.server_of(match.guild_id)
    await slash(world, "match cancel", server.organizer, match=str(match.id), reason="Called off")
    row = await reads.match_row(world, match.id)
    if row.status == "cancelled":
        match.cancelled = True
        match.results_when_cancelled = (await reads.results_recorded(world))[match.id]
        model.cancelled_titles[match.title] = match.guild_id


async def open_room(world: SeasonWorld, match: MatchModel) -> None:
    """A moderator opens the room by hand: /open-room, then Confirm if offered."""
    server = world.server_of(match.guild_id)
    preview = await slash(world, "open-room", server.organizer, match=str(match.id))
    offered = [m for m in preview.messages
               if any(b.get("label") == "Confirm" for b in m.buttons)]
    if offered:
        pressed = await world.sim.press(offered[0], "Confirm", member=server.organizer)
        assert APOLOGY not in pressed.text, f"Confirm failed on RaceDesk's side: {pressed.text}"
    await reads.settled(world)


# -- time --------------------------------------------------------------------------------------


async def advance(world: SeasonWorld, model: SeasonModel, minutes: int) -> None:
    """Time passes: each match job that falls due runs (as APScheduler runs it, at its time
    on the season's clock), then the catch-up sweep."""
    opened_before = len(reads.rooms_on_racetime(world))
    await world.clock.advance(minutes * 60)
    scheduler = world.services.match_scheduler
    now = world.clock.now()
    for match_id in sorted(model.matches):
        planned = scheduler.planned_at(match_id)
        if planned is not None and planned <= now:
            try:
                await scheduler.open_room(match_id)
            except UserFacingError as refused:  # the job logs it; nothing opens
                log.info("Match %d: job refused: %s", match_id, refused)
    await scheduler.sweep()
    await reads.settled(world)
    if len(reads.rooms_on_racetime(world)) > opened_before:
        covered("time passing opened a room")


# -- bots --------------------------------------------------------------------------------------


async def assign_bot(
    world: SeasonWorld, model: SeasonModel, category: str, server: Server, *, assign: bool
) -> None:
    assert world.owner is not None
    command = "racetime bot assign" if assign else "racetime bot unassign"
    await slash(world, command, world.owner, category=category, server_id=str(server.id))
    model.assigned = await reads.assigned(world)
    assert ((category, server.id) in model.assigned) == assign


# -- players -----------------------------------------------------------------------------------


async def link(
    world: SeasonWorld, model: SeasonModel, player: discord.Member, *, settle: bool = True
) -> None:
    """/link-racetime, racetime's authorization followed as a browser would, the callback."""
    result = await slash(world, "link-racetime", player)
    world.fake.authorize_as(world.racetime_ids[player.id])
    async with aiohttp.ClientSession() as http, \
            http.get(result.first.link_url, allow_redirects=False) as answer:
        assert answer.status == 302, await answer.text()
        location = answer.headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    outcome = await world.services.linking.complete_link(query["state"], code=query.get("code"))
    assert outcome.ok, outcome
    model.linked.add(player.id)
    if settle:
        await reads.settled(world)


async def unlink(world: SeasonWorld, model: SeasonModel, player: discord.Member) -> None:
    await slash(world, "unlink-racetime", player)
    model.linked.discard(player.id)
    await reads.settled(world)


# -- races -------------------------------------------------------------------------------------


def room_of(world: SeasonWorld, match: MatchModel) -> reads.FakeRoom | None:
    rooms = [r for r in reads.rooms_on_racetime(world)
             if r.match_id == match.id and r.status != "cancelled"]
    return rooms[0] if rooms else None


async def _try(action: Any) -> bool:
    try:
        await action
    except RaceActionError as refused:  # racetime refuses it (e.g. in another race)
        log.info("racetime refused: %s", refused)
        return False
    return True


async def start_race(world: SeasonWorld, match: MatchModel) -> None:
    """The invited players accept and ready up; the race starts (when racetime lets it)."""
    room = room_of(world, match)
    if room is None or room.status not in ("open", "invitational"):
        return
    fake = world.fake
    for entrant in fake.race_data(room.slug)["entrants"]:
        racer = fake.racer(room.slug, entrant["user"]["id"])
        if entrant["status"]["value"] == "invited" and not await _try(racer.accept_invite()):
            continue
        await _try(racer.ready())
    await fake.tick()
    if fake.race(room.slug).status == "pending":
        await fake.advance_to_start(room.slug)
        await fake.advance(6)  # past racetime's 5 s in which a start can be undone
        covered("a race started")
    await reads.settled(world)


async def _finish(world: SeasonWorld, match: MatchModel, slug: str, forfeit: bool) -> None:
    fake = world.fake
    racing = [e["user"]["id"] for e in fake.race_data(slug)["entrants"]
              if e["status"]["value"] == "in_progress"]
    for number, user in enumerate(racing):
        racer = fake.racer(slug, user)
        await _try(racer.forfeit() if forfeit and number == len(racing) - 1 else racer.done())
    await fake.tick()
    if fake.race(slug).status == "finished":
        match.finishes += 1
        covered("a race finished" + (" (its match cancelled)" if match.cancelled else ""))


async def finish_race(world: SeasonWorld, match: MatchModel, *, forfeit: bool) -> None:
    room = room_of(world, match)
    if room is None or room.status != "in_progress":
        return
    await _finish(world, match, room.slug, forfeit)
    await reads.settled(world)


async def unfinish_race(world: SeasonWorld, match: MatchModel) -> None:
    """A finisher takes their finish back (racetime allows it for a while)."""
    room = room_of(world, match)
    if room is None or room.status != "finished":
        return
    fake = world.fake
    done = [e["user"]["id"] for e in fake.race_data(room.slug)["entrants"]
            if e["status"]["value"] in ("done", "dnf")]
    if done and await _try(fake.racer(room.slug, done[-1]).undone()):
        covered("a finish was taken back")
    await reads.settled(world)


async def finish_while_down(world: SeasonWorld, match: MatchModel, *, forfeit: bool) -> None:
    """RaceDesk stops; the race finishes on racetime meanwhile; RaceDesk starts again on the
    same database and records the result, once."""
    room = room_of(world, match)
    if room is None or room.status != "in_progress":
        return
    await world.down()
    await _finish(world, match, room.slug, forfeit)
    await world.up()
    covered("RaceDesk restarted")
    await reads.settled(world)
