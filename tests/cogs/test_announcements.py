"""A tournament's channels hear of its matches: the room is open (announcements, with the
players mentioned), the results (results channel), a room that could not be opened; once per
event, also when the event is delivered again. The real dispatcher, services and cog, in the
simulated Discord server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import discord
import pytest

from cogs.announcements import AnnouncementsCog
from core.events import (
    Event,
    MatchResultEvent,
    MatchRoomProblemEvent,
    RacetimeRoomCreatedEvent,
)
from db.models import Match, MatchPlayer, Tournament
from db.queries.users import get_or_create_user_by_discord_id
from db.secrets import SecretBox
from tests.plugins.discord_bot import DiscordHarness, running_harness

WHEN = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
STAMP = int(WHEN.timestamp())
ROOM = "https://racetime.gg/alttpr/clever-link-1234"


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        harness.sim.sent()
        yield harness


@dataclass(frozen=True)
class Setup:
    tournament_id: int
    match_id: int
    announcements: discord.TextChannel
    results: discord.TextChannel
    players: tuple[discord.Member, discord.Member]


async def a_match(harness: DiscordHarness, *, channels: bool = True) -> Setup:
    announcements = harness.sim.add_text_channel("announcements")
    results = harness.sim.add_text_channel("results")
    one, two = harness.member(0), harness.member(1)
    settings: dict[str, object] = {"auto_create_rooms": True}
    if channels:
        settings |= {"announcement_channel_id": str(announcements.id),
                     "results_channel_id": str(results.id)}
    async with harness.services.sessionmaker.begin() as session:
        tournament = Tournament(guild_id=harness.guild.id, name="Winter Cup",
                                racetime_category="alttpr", settings=settings)
        session.add(tournament)
        await session.flush()
        match = Match(tournament_id=tournament.id, title="Semi-final", scheduled_at=WHEN)
        session.add(match)
        await session.flush()
        for place, member in enumerate((one, two), start=1):
            user = await get_or_create_user_by_discord_id(session, member.id)
            session.add(MatchPlayer(
                match_id=match.id, user_id=user.id, status="done", place=place,
                finish_time=timedelta(hours=1, minutes=place, seconds=2.5),
            ))
        assert tournament.id is not None and match.id is not None
        return Setup(tournament.id, match.id, announcements, results, (one, two))


async def emit(harness: DiscordHarness, *events: Event) -> list[discord.Message]:
    for event in events:
        await harness.services.dispatcher.emit(event)
    await harness.services.dispatcher.drain()
    return harness.sim.sent()


def room_created(setup: Setup) -> RacetimeRoomCreatedEvent:
    return RacetimeRoomCreatedEvent(
        match_id=setup.match_id, tournament_id=setup.tournament_id, category="alttpr",
        room_slug="clever-link-1234", room_url=ROOM, scheduled_at=WHEN,
    )


async def test_an_open_room_is_announced_with_its_link_and_the_players_mentioned(
    harness: DiscordHarness,
) -> None:
    setup = await a_match(harness)
    event = room_created(setup)

    [post] = await emit(harness, event)

    assert post.channel.id == setup.announcements.id
    one, two = setup.players
    assert post.content == f"<@{one.id}> <@{two.id}>"
    [embed] = post.embeds
    assert embed.title == "🚪 Winter Cup · Semi-final: the room is open"
    assert embed.url == ROOM
    assert embed.description is not None
    assert f"Starts <t:{STAMP}:F> (<t:{STAMP}:R>)" in embed.description
    assert f"Room: {ROOM}" in embed.description and "Goal: Beat the game" in embed.description
    assert embed.colour == discord.Colour.blue()
    # Delivered again (after a crash, the dispatcher hands the cog the same event): nothing
    # more is posted.
    # (Extensions are loaded afresh for each harness: its class is not this module's import.)
    cog = cast("AnnouncementsCog", harness.bot.get_cog("AnnouncementsCog"))
    await cog.announce(event)
    assert harness.sim.sent() == []


async def test_results_go_to_the_results_channel_in_place_order(harness: DiscordHarness) -> None:
    setup = await a_match(harness)
    one, two = setup.players

    [post] = await emit(harness, MatchResultEvent(
        match_id=setup.match_id, tournament_id=setup.tournament_id,
        summary="1. RacerOne 1:01:02.5 · 2. RacerTwo 1:02:02.5", room_url=ROOM,
    ))

    assert post.channel.id == setup.results.id
    [embed] = post.embeds
    assert embed.title == "🏁 Winter Cup · Semi-final: results"
    assert embed.description == f"1. <@{one.id}> 1:01:02.5\n2. <@{two.id}> 1:02:02.5"
    assert embed.colour == discord.Colour.green()


async def test_a_room_that_could_not_be_opened_is_announced(harness: DiscordHarness) -> None:
    setup = await a_match(harness)
    problem = "The room could not be opened: racetime.gg answered 503. Try /open-room."

    [post] = await emit(harness, MatchRoomProblemEvent(
        match_id=setup.match_id, tournament_id=setup.tournament_id, problem=problem,
    ))

    assert post.channel.id == setup.announcements.id
    [embed] = post.embeds
    assert embed.title == "⚠️ Winter Cup · Semi-final: no race room"
    assert embed.description == problem
    assert embed.colour == discord.Colour.red()


async def test_a_tournament_without_channels_posts_nothing(harness: DiscordHarness) -> None:
    setup = await a_match(harness, channels=False)

    assert await emit(harness, room_created(setup)) == []
