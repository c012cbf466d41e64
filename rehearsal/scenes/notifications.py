"""Players choose their notifications; a DM a player refuses goes to the fallback channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord

from core.events import Event, MatchScheduledEvent, RacetimeRoomOpenedEvent
from core.services.notification_types import NotificationType
from db.models import Match, MatchPlayer, Tournament
from db.queries.users import get_or_create_user_by_discord_id
from rehearsal.stage import Scene, Stage

TOURNAMENT, MATCH = "Winter Cup", "Heat 1"
NOTICES = "race-notices"


def dm_to(who: discord.Member, sent: list[discord.Message]) -> list[discord.Message]:
    return [
        m for m in sent
        if isinstance(m.channel, discord.DMChannel) and m.channel.recipient == who
    ]


def posted_for(who: discord.Member, sent: list[discord.Message]) -> list[discord.Message]:
    return [m for m in sent if getattr(m.channel, "name", None) == NOTICES and who in m.mentions]


async def a_match(stage: Stage, players: list[discord.Member]) -> tuple[int, int]:
    """The tournament, its match and its players, straight into the database."""
    guild = stage.guild.guild
    async with stage.services.sessionmaker.begin() as session:
        tournament = Tournament(guild_id=guild.id, name=TOURNAMENT, racetime_category="alttpr")
        session.add(tournament)
        await session.flush()
        match = Match(tournament_id=tournament.id, title=MATCH)
        session.add(match)
        await session.flush()
        for player in players:
            user = await get_or_create_user_by_discord_id(session, player.id)
            session.add(MatchPlayer(match_id=match.id, user_id=user.id))
        return tournament.id, match.id


async def happens(stage: Stage, text: str, event: Event) -> None:
    """A tournament event, emitted as the tournament commands will once they exist."""
    stage.timeline.line("tournament", text)
    await stage.services.dispatcher.emit(event)


async def play(stage: Stage) -> None:
    one, two, three = (stage.member(name) for name in stage.cast.racers)
    organizer = stage.cast.admin

    async with stage.step(f"{one.name} turns 'Match scheduled' off with /notifications settings"):
        panel = await stage.slash(one.name, "notifications settings")
        stage.expect_reply(panel, "**Match scheduled** (`410`): on (default)")
        pressed = await stage.press(one.name, panel, "Match scheduled")
        stage.expect_reply(pressed, "**Match scheduled** (`410`): off")

    async with stage.step(f"{organizer} (an organizer) makes #{NOTICES} the fallback channel"):
        stage.timeline.line(organizer, f"creates #{NOTICES}")
        notices = stage.guild.add_text_channel(NOTICES)
        reply = await stage.slash(organizer, "notifications channel", channel=notices)
        stage.expect_reply(reply, f"now go to #{NOTICES}")

    async with stage.step(f"{two.name} does not accept DMs from RaceDesk"):
        stage.timeline.line(two.name, "closes their DMs (Discord now answers 403, code 50007)")
        stage.guild.refuse_dms(two)

    async with stage.step(
        f"a {TOURNAMENT} match for all three is written to the database "
        "(tournaments and their commands arrive in a later issue)"
    ):
        tournament_id, match_id = await a_match(stage, [one, two, three])
        when = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)

    async with stage.step(
        f"the match is scheduled: {three.name} gets a DM, {two.name}'s goes to #{NOTICES}, "
        f"{one.name} gets none"
    ):
        await happens(
            stage, f"{MATCH} is scheduled for <t:{int(when.timestamp())}:F> (the scheduling "
            "command arrives with tournaments; this scene emits its event)",
            MatchScheduledEvent(match_id=match_id, tournament_id=tournament_id, scheduled_at=when),
        )
        await stage.expect_sent(
            f"a DM to {three.name} and a post for {two.name} in #{NOTICES}",
            lambda sent: bool(dm_to(three, sent) and posted_for(two, sent)),
        )
        await stage.services.dispatcher.drain()
        mine = await stage.services.notifications.history(one.id, stage.guild.guild.id)
        if any(d.type is NotificationType.MATCH_SCHEDULED for d in mine):
            raise stage.fail(f"nothing for {one.name}", f"{one.name}'s history: {mine}")

    async with stage.step(
        f"the race room opens: {one.name} and {three.name} get a DM with the room's link, "
        f"{two.name} a post in #{NOTICES}"
    ):
        await happens(
            stage, f"RaceDesk opens {MATCH}'s race room (the room opener also arrives with "
            "tournaments)",
            RacetimeRoomOpenedEvent(
                match_id=match_id, tournament_id=tournament_id, category=stage.cast.category,
                room_slug="winter-cup-heat-1", scheduled_at=when,
                room_url=f"{stage.racetime.base_url}/{stage.cast.category}/winter-cup-heat-1",
            ),
        )
        await stage.expect_sent(
            f"DMs to {one.name} and {three.name}, a post for {two.name}",
            lambda sent: bool(dm_to(one, sent) and dm_to(three, sent) and posted_for(two, sent)),
        )

    async with stage.step(f"{two.name} sees in /notifications history why DMs fell back"):
        reply = await stage.slash(two.name, "notifications history")
        stage.expect_reply(reply, "Fell back to channel")
        stage.expect_reply(reply, "does not accept DMs from the bot (Discord 50007)")


SCENE = Scene("Players choose their notifications; refused DMs go to a channel", play)
