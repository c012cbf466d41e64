"""A match's reminder in Discord: the players' DMs and a post in the tournament's reminder
channel with the players mentioned, each once, also when the reminder is delivered again;
nothing in a channel the tournament did not choose, nor for a time the match has left. The
real services, cogs and notification delivery, in the simulated Discord server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import discord
import pytest

from cogs.announcements import AnnouncementsCog
from core.events import MatchReminderEvent
from db.models import Match, MatchPlayer, Tournament
from db.queries.users import get_or_create_user_by_discord_id
from db.secrets import SecretBox
from tests.plugins.discord_bot import DiscordHarness, running_harness

# The harness runs on the system clock: each match a little ahead of it, when it is made (not
# when this module is read: a long run reaches these tests many minutes after that).
AHEAD = timedelta(minutes=20)


@pytest.fixture
async def harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box, deliver_notifications=True) as harness:
        harness.sim.sent()
        yield harness


@dataclass(frozen=True)
class Setup:
    tournament_id: int
    match_id: int
    channel: discord.TextChannel
    players: tuple[discord.Member, discord.Member]
    scheduled_at: datetime

    @property
    def stamp(self) -> int:
        return int(self.scheduled_at.timestamp())


async def a_match(harness: DiscordHarness, *, channel: bool = True) -> Setup:
    soon = datetime.now(UTC).replace(second=0, microsecond=0) + AHEAD
    reminders = harness.sim.add_text_channel("match-reminders")
    one, two = harness.member(0), harness.member(1)
    settings: dict[str, object] = {"reminder_minutes": 30}
    if channel:
        settings["reminder_channel_id"] = str(reminders.id)
    async with harness.services.sessionmaker.begin() as session:
        tournament = Tournament(guild_id=harness.guild.id, name="Winter Cup",
                                racetime_category="alttpr", settings=settings)
        session.add(tournament)
        await session.flush()
        match = Match(tournament_id=tournament.id, title="Semi-final", scheduled_at=soon)
        session.add(match)
        await session.flush()
        for member in (one, two):
            user = await get_or_create_user_by_discord_id(session, member.id)
            session.add(MatchPlayer(match_id=match.id, user_id=user.id))
        assert tournament.id is not None and match.id is not None
        return Setup(tournament.id, match.id, reminders, (one, two), soon)


async def test_the_reminder_is_posted_once_and_each_player_gets_a_dm(
    harness: DiscordHarness,
) -> None:
    setup = await a_match(harness)
    # Its minute (20 minutes before, 30 wanted) has passed and the match is still ahead.
    assert await harness.services.match_reminders.remind(setup.match_id)
    await harness.notifications_settled()

    sent = harness.sim.sent()
    [post] = [m for m in sent if m.channel.id == setup.channel.id]
    one, two = setup.players
    assert post.content == f"<@{one.id}> <@{two.id}>"
    [embed] = post.embeds
    assert embed.title == "⏰ Winter Cup · Semi-final: starting soon"
    assert embed.description is not None
    stamp = setup.stamp
    assert f"Starts <t:{stamp}:F> (<t:{stamp}:R>)" in embed.description
    assert "The race room is not open yet." in embed.description
    assert embed.colour == discord.Colour.gold()
    dms = [m for m in sent if isinstance(m.channel, discord.DMChannel)]
    assert sorted(m.channel.recipient.id for m in dms if m.channel.recipient) == sorted(
        [one.id, two.id])
    assert {m.embeds[0].title for m in dms} == {"⏰ Match reminder"}

    # Asked again, and the same event handed to the cog again: nothing more.
    assert not await harness.services.match_reminders.remind(setup.match_id)
    await harness.notifications_settled()
    cog = cast("AnnouncementsCog", harness.bot.get_cog("AnnouncementsCog"))
    await cog.announce(MatchReminderEvent(
        match_id=setup.match_id, tournament_id=setup.tournament_id, scheduled_at=setup.scheduled_at,
        minutes=30,
    ))
    assert harness.sim.sent() == []


async def test_no_reminder_channel_no_post(harness: DiscordHarness) -> None:
    setup = await a_match(harness, channel=False)
    assert await harness.services.match_reminders.remind(setup.match_id)
    await harness.notifications_settled()
    sent = harness.sim.sent()
    assert len(sent) == 2 and all(isinstance(m.channel, discord.DMChannel) for m in sent)


async def test_a_reminder_for_a_time_the_match_has_left_is_not_posted(
    harness: DiscordHarness,
) -> None:
    setup = await a_match(harness)
    stale = MatchReminderEvent(
        match_id=setup.match_id, tournament_id=setup.tournament_id,
        scheduled_at=setup.scheduled_at - timedelta(hours=1), minutes=30,
    )
    await harness.services.dispatcher.emit(stale)
    await harness.notifications_settled()
    assert harness.sim.sent() == []
