"""How a notification looks in Discord: an embed per type, the room link as a button."""

from __future__ import annotations

import discord

from core.services.notification_delivery import OutgoingNotification
from core.services.notification_types import NotificationStyle

STYLES: dict[NotificationStyle, tuple[str, discord.Colour]] = {
    NotificationStyle.SCHEDULED: ("📅", discord.Colour.green()),
    NotificationStyle.ROOM_OPENED: ("🚪", discord.Colour.blue()),
    NotificationStyle.STARTED: ("🏁", discord.Colour.orange()),
    NotificationStyle.FINISHED: ("✅", discord.Colour.green()),
    NotificationStyle.CANCELLED: ("❌", discord.Colour.red()),
}


def discord_time(moment_unix: int) -> str:
    """A time every reader sees in their own zone: full date, then relative."""
    return f"<t:{moment_unix}:F> (<t:{moment_unix}:R>)"


def notification_embed(message: OutgoingNotification) -> discord.Embed:
    kind, content = message.kind, message.content
    emoji, colour = (
        STYLES[kind.info.style] if kind is not None else ("🔔", discord.Colour.blurple())
    )
    title = kind.info.label if kind is not None else message.event_type
    if content.problem:  # the thing happened, but not for this recipient: say so first
        emoji, colour, title = "⚠️", discord.Colour.orange(), f"{title}: you are not in"
    embed = discord.Embed(title=f"{emoji} {title}", colour=colour)
    embed.description = " · ".join(part for part in (content.tournament, content.subject) if part)
    if content.scheduled_at is not None:
        embed.add_field(name="When", value=discord_time(int(content.scheduled_at.timestamp())))
    if content.problem:
        embed.add_field(name="What is wrong", value=content.problem[:1024], inline=False)
    if content.room_url:
        embed.add_field(name="Race room", value=content.room_url, inline=False)
    if content.reason:
        embed.add_field(name="Reason", value=content.reason, inline=False)
    if content.details:
        embed.add_field(name="Details", value=content.details, inline=False)
    return embed


def room_button(message: OutgoingNotification) -> discord.ui.View | None:
    """A link button to the race room, when there is one."""
    url = message.content.room_url
    if not url:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Open the race room", url=url, emoji="🚪"))
    return view
