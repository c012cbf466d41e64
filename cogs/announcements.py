"""Posts in a tournament's channels: a match's room is open, its results, a reminder before
it starts, a room RaceDesk could not open, a player racetime would not let in. No commands:
it listens to the events and posts what ``core.tournaments.announcements`` says, once per
event (a receipt, and a nonce Discord dedupes a repeated post by)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from cogs._shared.discord_limits import (
    EMBED_DESCRIPTION_MAX,
    EMBED_TITLE_MAX,
    MESSAGE_CONTENT_MAX,
)
from cogs._shared.fitting import clip, fit_lines
from core.events import (
    Event,
    FpaCalledEvent,
    MatchInviteRefusedEvent,
    MatchReminderEvent,
    MatchResultEvent,
    MatchRoomProblemEvent,
    RoomForMatchEvent,
)
from core.sending import nonce_for
from core.tournaments.announcements import Announcement, AnnouncementService, Tone

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot import RaceDeskBot

log = logging.getLogger(__name__)

COLOURS = {
    Tone.ROOM_OPEN: discord.Colour.blue(),
    Tone.RESULTS: discord.Colour.green(),
    Tone.PROBLEM: discord.Colour.red(),
    Tone.REMINDER: discord.Colour.gold(),
}
EVENTS = (
    RoomForMatchEvent, MatchResultEvent, MatchRoomProblemEvent, MatchInviteRefusedEvent,
    FpaCalledEvent, MatchReminderEvent,
)


def announcement_embed(announcement: Announcement) -> discord.Embed:
    return discord.Embed(
        title=clip(announcement.title, EMBED_TITLE_MAX),
        description=fit_lines(announcement.lines, EMBED_DESCRIPTION_MAX),
        colour=COLOURS[announcement.tone],
        url=announcement.url,
    )


def mentions_text(announcement: Announcement) -> str | None:
    """The players it concerns, mentioned (notified) above the embed."""
    mentions = [f"<@{user}>" for user in announcement.mentions]
    return fit_lines(mentions, MESSAGE_CONTENT_MAX, sep=" ") or None


class AnnouncementsCog(commands.Cog):
    def __init__(self, bot: RaceDeskBot, announcements: AnnouncementService) -> None:
        self._bot = bot
        self._announcements = announcements
        self._unsubscribe: list[Callable[[], None]] = []

    async def cog_load(self) -> None:
        dispatcher = self._bot.services.dispatcher
        self._unsubscribe = [dispatcher.subscribe(kind, self.announce) for kind in EVENTS]

    async def cog_unload(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    async def announce(self, event: Event) -> None:
        """Post what ``event`` calls for, once. A Discord failure is raised: the dispatcher
        tries again, and the nonce keeps a post that did land single."""
        announcement = await self._announcements.for_event(event)
        if announcement is None or await self._announcements.posted(event.event_id):
            return
        channel = self._bot.get_channel(announcement.channel_id)
        if channel is None:
            try:
                channel = await self._bot.fetch_channel(announcement.channel_id)
            except (discord.NotFound, discord.Forbidden):
                log.warning("Announcement channel %s is gone or hidden; not posted: %s",
                            announcement.channel_id, announcement.title)
                await self._announcements.mark_posted(event.event_id)
                return
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("Announcement channel %s is not a text channel", announcement.channel_id)
            await self._announcements.mark_posted(event.event_id)
            return
        try:
            await channel.send(
                content=mentions_text(announcement), embed=announcement_embed(announcement),
                nonce=nonce_for(f"announce:{event.event_id}"),
                allowed_mentions=discord.AllowedMentions(users=True, roles=False, everyone=False),
            )
        except discord.Forbidden:
            log.warning("No permission to post in channel %s: %s", announcement.channel_id,
                        announcement.title)
        await self._announcements.mark_posted(event.event_id)


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(AnnouncementsCog(bot, bot.services.announcements))
