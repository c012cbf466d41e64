"""Players choose their notifications; a DM a player refuses goes to the fallback channel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import discord

from cogs._shared.permissions import actor_of_user
from core.events import MatchScheduledEvent, RacetimeRoomOpenedEvent
from core.notifications.kinds import NotificationType
from rehearsal.stage import Scene, Stage

FELL_BACK = "fell back to channel"

TOURNAMENT, MATCH = "Winter Cup", "Heat 1"
NOTICES = "race-notices"


def dm_to(who: discord.Member) -> Callable[[discord.Message], bool]:
    return lambda m: isinstance(m.channel, discord.DMChannel) and m.channel.recipient == who


def posted_for(who: discord.Member) -> Callable[[discord.Message], bool]:
    return lambda m: getattr(m.channel, "name", None) == NOTICES and who in m.mentions


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

    async with stage.step(f"{stage.cast.owner} (a bot owner) lets this server use the "
                          f"{stage.cast.category} bot"):
        reply = await stage.slash(stage.cast.owner, "tournament allow-bot",
                                  category=stage.cast.category)
        stage.expect_reply(reply, stage.cast.category)

    async with stage.step(f"{organizer} creates {TOURNAMENT}, whose rooms moderators open"):
        reply = await stage.slash(organizer, "tournament create", name=TOURNAMENT,
                                  category=stage.cast.category)
        stage.expect_reply(reply, f"Created **{TOURNAMENT}**")

    when = int((stage.now() + timedelta(days=2)).replace(
        minute=0, second=0, microsecond=0).timestamp())
    async with stage.step(
        f"{organizer} schedules a match for all three: {three.name} gets a DM, "
        f"{two.name}'s goes to #{NOTICES}, {one.name} gets none"
    ):
        players = " ".join(member.mention for member in (one, two, three))
        reply = await stage.slash(organizer, "match schedule", tournament=TOURNAMENT,
                                  players=players, when=f"<t:{when}:F>", title=MATCH)
        stage.expect_reply(reply, f"<t:{when}:F>")
        scheduled = await stage.expect_event(
            MatchScheduledEvent, "the match scheduled",
            lambda e: e.scheduled_at is not None and int(e.scheduled_at.timestamp()) == when,
        )
        await stage.expect_sent(f"a DM to {three.name}", dm_to(three))
        await stage.expect_sent(f"a post for {two.name} in #{NOTICES}", posted_for(two))
        await stage.services.dispatcher.drain()
        mine = await stage.services.notifications.history(
            one.id, stage.guild.guild.id, actor=actor_of_user(one)
        )
        if any(d.type is NotificationType.MATCH_SCHEDULED for d in mine):
            raise stage.fail(f"nothing for {one.name}", f"{one.name}'s history: {mine}")

    async with stage.step(
        f"{organizer} opens the race room with /open-room: {one.name} and {three.name} get a "
        f"DM with the room's link, {two.name} a post in #{NOTICES}"
    ):
        preview = await stage.slash(organizer, "open-room", match=str(scheduled.match_id))
        await stage.press(organizer, preview, "Confirm")
        await stage.expect_event(
            RacetimeRoomOpenedEvent, "the room opened",
            lambda e: e.match_id == scheduled.match_id,
        )
        for member in (one, three):
            await stage.expect_sent(f"a DM to {member.name}", dm_to(member))
        await stage.expect_sent(f"a post for {two.name} in #{NOTICES}", posted_for(two))

    async with stage.step(f"{two.name} sees in /notifications history why DMs fell back"):

        async def both_fell_back() -> bool:
            mine = await stage.services.notifications.history(
                two.id, stage.guild.guild.id, actor=actor_of_user(two)
            )
            return [d.state for d in mine] == [FELL_BACK, FELL_BACK]

        # The post in the channel goes out a moment before its outcome is recorded.
        await stage.wait_until(f"both of {two.name}'s notifications recorded as fell back",
                               both_fell_back)
        reply = await stage.slash(two.name, "notifications history")
        stage.expect_reply(reply, "Fell back to channel")
        stage.expect_reply(reply, "does not accept DMs from the bot (Discord 50007)")


SCENE = Scene("Players choose their notifications; refused DMs go to a channel", play)
