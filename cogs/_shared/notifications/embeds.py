"""How a notification looks in Discord: an embed per type, the room link as a button."""

from __future__ import annotations

import discord

from cogs._shared.discord_limits import EMBED_FIELD_VALUE_MAX, EMBED_TITLE_MAX
from cogs._shared.fitting import Field, add_fields, clip, fit_lines
from core.notifications.delivery import OutgoingNotification
from core.notifications.kinds import NotificationStyle

STYLES: dict[NotificationStyle, tuple[str, discord.Colour]] = {
    NotificationStyle.SCHEDULED: ("📅", discord.Colour.green()),
    NotificationStyle.ROOM_OPENED: ("🚪", discord.Colour.blue()),
    NotificationStyle.STARTED: ("🏁", discord.Colour.orange()),
    NotificationStyle.FINISHED: ("✅", discord.Colour.green()),
    NotificationStyle.CANCELLED: ("❌", discord.Colour.red()),
    NotificationStyle.REMINDER: ("⏰", discord.Colour.gold()),
}


SEPARATOR = " · "


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
    embed = discord.Embed(title=clip(f"{emoji} {title}", EMBED_TITLE_MAX), colour=colour)
    embed.description = SEPARATOR.join(
        part for part in (content.tournament, content.subject) if part
    )
    if content.scheduled_at is not None:
        embed.add_field(name="When", value=discord_time(int(content.scheduled_at.timestamp())))
    fields = [
        Field.of("What is wrong", content.problem or ""),
        Field.of("Race room", content.room_url or ""),
        Field.of("Reason", content.reason or ""),
        # Results are a list of players, " · " between them.
        Field("Details", fit_lines((content.details or "").split(SEPARATOR),
                                   EMBED_FIELD_VALUE_MAX, sep=SEPARATOR)),
    ]
    return add_fields(embed, [field for field in fields if field.value])


def room_button(message: OutgoingNotification) -> discord.ui.View | None:
    """A link button to the race room, when there is one."""
    url = message.content.room_url
    if not url:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Open the race room", url=url, emoji="🚪"))
    return view
