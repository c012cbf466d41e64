"""What must hold after every step of the season, read from racetime, the database and what
the simulated Discord received; each check fails with what it saw."""

from __future__ import annotations

import re
from collections import Counter

import discord

from tests.season import reads
from tests.season.model import SeasonModel
from tests.season.steps import slash
from tests.season.world import SeasonWorld, Server


def message_text(message: discord.Message) -> str:
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name}: {f.value}" for f in embed.fields]
        if embed.footer and embed.footer.text:
            parts.append(embed.footer.text)
    return "\n".join(p for p in parts if p)


def names(title: str) -> re.Pattern[str]:
    """``title`` as a whole (``Alder Match 1`` is not in ``Alder Match 12``)."""
    return re.compile(rf"(?<![\w]){re.escape(title)}(?![\w])")


async def check_rooms(world: SeasonWorld, model: SeasonModel) -> None:
    """Each match at most one room; no room decided on (its claim taken) for a match that,
    when the step began, was cancelled, of an archived tournament or of a bot no longer
    serving its server; a room the scheduler opened only once it was due.

    A room is judged when its claim is taken, not when racetime shows it: one decided just
    before an archive may appear on racetime a moment after it."""
    rooms = reads.rooms_on_racetime(world)
    per_match = Counter(r.match_id for r in rooms if r.status != "cancelled")
    twice = {match: count for match, count in per_match.items() if count > 1}
    assert not twice, f"matches with more than one room (match: rooms): {twice}"
    claims = await reads.claims(world)
    decided = [
        claim for match_id, claim in claims.items()
        if claim.state != "failed"
        and (claim.id, claim.state) != model.claims_seen.get(match_id)
        and model.claims_seen.get(match_id, (None, "failed"))[1] == "failed"
    ]
    new_rooms = [r for r in rooms if r.slug not in model.seen_rooms]
    unclaimed = [r.match_id for r in new_rooms if r.match_id not in claims]
    rows = await reads.matches(world) if decided else {}
    for match_id in [c.match_id for c in decided] + unclaimed:
        why = model.forbidden_at_step_start.get(match_id)
        assert why is None, f"match {match_id} was given a room, but {why}"
    for claim in decided:
        if claim.reason == "scheduled":
            due = await reads.opens_at(world, rows[claim.match_id])
            tournament_id = rows[claim.match_id].tournament_id
            # The organizer changed the room times in this step: due by the old ones counts.
            before = model.opens_before_change.get(tournament_id, {}).get(claim.match_id)
            now = world.clock.now()
            on_time = any(when is not None and when <= now for when in (due, before))
            assert on_time, (
                f"the scheduler opened match {claim.match_id}'s room at {now}, "
                f"before it was due ({due})"
            )
    for room in new_rooms:
        tournament = model.tournaments[model.matches[room.match_id].tournament_id]
        assert room.category == tournament.category, (room, tournament)
        model.seen_rooms.add(room.slug)
    model.claims_seen = {match_id: (c.id, c.state) for match_id, c in claims.items()}
    model.opens_before_change.clear()


async def check_results(world: SeasonWorld, model: SeasonModel) -> None:
    """A cancelled match stays cancelled and gets no result; every other match has one
    result per time its race finished, recorded once (also when it finished while RaceDesk
    was down)."""
    recorded = await reads.results_recorded(world)
    rows = await reads.matches(world)
    for match in model.matches.values():
        status = rows[match.id].status
        if match.cancelled:
            assert status == "cancelled", f"cancelled match {match.id} is now {status}"
            assert recorded[match.id] == match.results_when_cancelled, (
                f"cancelled match {match.id} got results: {recorded[match.id]} recorded, "
                f"{match.results_when_cancelled} before it was cancelled"
            )
        else:
            assert recorded[match.id] == match.finishes, (
                f"match {match.id}: its race finished {match.finishes} time(s), "
                f"{recorded[match.id]} result(s) recorded"
            )


def check_messages(world: SeasonWorld, model: SeasonModel, sent: list[discord.Message]) -> None:
    """What the bot posted in a server, or sent a player by DM, names nothing of the other
    server; no results are posted for a cancelled match."""
    players = {p.id: server for server in world.servers for p in server.players}
    for message in sent:
        guild = message.guild
        text = message_text(message)
        if guild is None:  # a DM: a player hears of their own server only
            recipient = getattr(message.channel, "recipient", None)
            if recipient is not None and recipient.id in players:
                _nothing_of_others(world, players[recipient.id], text, "a DM")
            continue
        _nothing_of_others(world, world.server_of(guild.id), text, f"#{message.channel}")
        server = world.server_of(guild.id)
        if message.channel.id == server.results.id:
            for title, guild_id in model.cancelled_titles.items():
                assert guild_id != guild.id or not names(title).search(text), (
                    f"results posted for the cancelled match {title!r}: {text!r}"
                )


def _nothing_of_others(world: SeasonWorld, server: Server, text: str, where: str) -> None:
    for other in world.servers:
        if other is not server:
            assert other.marker not in text, (
                f"server {server.key} sees server {other.key}'s {other.marker!r} in {where}: "
                f"{text!r}"
            )


async def check_views(world: SeasonWorld, model: SeasonModel) -> None:
    """Each server's organizer lists, looks up and is offered nothing of the other server."""
    for server in world.servers:
        seen = [
            (await slash(world, "match list", server.organizer)).text,
            (await slash(world, "tournament list", server.organizer, archived=True)).text,
        ]
        choices = await world.sim.autocomplete("open-room", "match", "", member=server.organizer)
        seen += [choice.name for choice in choices]
        theirs = [m for m in model.matches.values() if m.guild_id != server.id]
        if theirs:
            info = await slash(world, "match info", server.organizer, match=str(theirs[-1].id))
            seen.append(info.text)
        _nothing_of_others(world, server, "\n".join(seen), "its replies")


async def check_all(world: SeasonWorld, model: SeasonModel) -> None:
    """Every invariant, then remember what may not get a room as the next step begins."""
    world.sim.check_refusals()  # a post or DM beyond Discord's limits
    sent = world.sim.sent()
    await check_rooms(world, model)
    await check_results(world, model)
    check_messages(world, model, sent)
    await check_views(world, model)
    check_messages(world, model, world.sim.sent())
    world.sim.check_refusals()
    model.snapshot_forbidden()
