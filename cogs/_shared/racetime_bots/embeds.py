"""How ``/racetime`` shows the category bots: badges, status icons and colours, history."""

from __future__ import annotations

from datetime import datetime

import discord

from cogs._shared.discord_limits import EMBED_DESCRIPTION_MAX, EMBED_TITLE_MAX
from cogs._shared.fitting import clip, embed_groups, fit_lines
from core.leadership import Role
from core.racetime_bots.admin import (
    BotInfo,
    BotOverview,
    BotStatus,
    ConnectOutcome,
    RacetimeOverview,
    StatusChange,
)
from core.racetime_bots.alerts import STATUS_ICONS, status_name

STATUS_COLOURS = {
    BotStatus.CONNECTED: discord.Colour.green(),
    BotStatus.AUTH_FAILED: discord.Colour.red(),
    BotStatus.CONNECTION_ERROR: discord.Colour.red(),
    BotStatus.DISCONNECTED: discord.Colour.gold(),
    BotStatus.UNKNOWN: discord.Colour.light_grey(),
}
CANNOT_DECRYPT_NOTE = (
    "🔒 Cannot decrypt its client secret: was the secret key changed? "
    "See `python bot.py rotate-key`, or give it its credentials again with `/racetime bot edit`."
)
MAX_ROOMS_SHOWN = 10


def status_text(status: BotStatus, message: str | None = None) -> str:
    """``🔑 **Auth failed**: racetime.gg refused ...`` (a message that only repeats the
    status, like "Connected", is left out)."""
    name = status_name(status)
    said = f": {message}" if message and message.lower() != name.lower() else ""
    return f"{STATUS_ICONS[status]} **{name}**{said}"


def when(moment: datetime | None) -> str:
    return f"<t:{int(moment.timestamp())}:R>" if moment else "never"


def bot_embed(row: BotOverview, *, show_servers: bool) -> discord.Embed:
    """One bot in ``/racetime bot list``: badge, status with its icon and colour, last
    successful connection."""
    bot = row.bot
    status = bot.status
    badge = "Active" if bot.is_active else "Inactive"
    embed = discord.Embed(
        title=clip(f"{bot.display_name} (`{bot.category}`) · {badge}", EMBED_TITLE_MAX),
        description=clip(status_text(status, bot.status_message), EMBED_DESCRIPTION_MAX),
        colour=STATUS_COLOURS[status],
    )
    embed.add_field(name="Last connected", value=when(bot.last_connected_at))
    embed.add_field(
        name="Rooms watched", value=str(row.rooms_watched) if row.running else "not running"
    )
    if show_servers:
        embed.add_field(name="Servers", value=str(len(row.guild_ids)))
    if row.stopped_by_owner:
        embed.add_field(
            name="Stopped by an owner",
            value="Stays stopped, also after a restart, until `/racetime bot start`.",
            inline=False,
        )
    if not row.secret_readable:
        embed.add_field(name="Credentials", value=CANNOT_DECRYPT_NOTE, inline=False)
    return embed


def bot_list_pages(rows: list[BotOverview], *, everything: bool) -> list[list[discord.Embed]]:
    """``/racetime bot list``: an embed per bot, as many to a page as Discord takes."""
    if not rows:
        where = "yet" if everything else "serves this server yet"
        return [[
            discord.Embed(
                title="racetime.gg bots",
                description=f"No racetime bot {where}. A bot owner can add one: "
                "`/racetime bot add`.",
                colour=discord.Colour.light_grey(),
            )
        ]]
    return embed_groups([bot_embed(row, show_servers=everything) for row in rows])


def history_embed(bot: BotInfo, changes: list[StatusChange]) -> discord.Embed:
    lines = [
        f"<t:{int(change.changed_at.timestamp())}:f> "
        f"{STATUS_ICONS[change.old_status]} → " + status_text(change.new_status, change.message)
        for change in changes
    ]
    return discord.Embed(
        title=clip(f"{bot.display_name} (`{bot.category}`): recent status changes",
                   EMBED_TITLE_MAX),
        description=fit_lines(lines, EMBED_DESCRIPTION_MAX) or "No status changes yet.",
        colour=STATUS_COLOURS[bot.status],
    )


def status_embed(overview: RacetimeOverview) -> discord.Embed:
    """``/racetime status``: bots by state, and how the rooms are doing (of one server, or of
    every server for a bot owner who asked)."""
    by_status = overview.by_status
    healthy = not (
        by_status[BotStatus.AUTH_FAILED] or by_status[BotStatus.CONNECTION_ERROR]
        or overview.rooms_reconnecting or overview.rooms_unhandled
    )
    everywhere = overview.guild_id is None
    embed = discord.Embed(
        title="racetime.gg health" + (": every server" if everywhere else ""),
        colour=discord.Colour.green() if healthy else discord.Colour.red(),
    )
    if not overview.bots:
        where = "yet" if everywhere else "serves this server yet"
        embed.description = (
            f"No racetime bot {where}. A bot owner can add one: `/racetime bot add`."
        )
    else:
        embed.add_field(
            name="Bots",
            value="\n".join(
                f"{STATUS_ICONS[status]} {status_name(status)}: {by_status[status]}"
                for status in BotStatus
                if by_status[status]
            ) + "\n`/racetime bot list` shows each bot.",
            inline=False,
        )
    embed.add_field(name="Rooms connected", value=str(overview.rooms_connected))
    embed.add_field(name="Rooms reconnecting", value=_rooms(overview.rooms_reconnecting))
    embed.add_field(
        name="Rooms not handled", value=_rooms(overview.rooms_unhandled), inline=False
    )
    leading = overview.leadership
    if leading.role is Role.LEADER:  # several processes share the database: who answers
        embed.add_field(
            name="Leader",
            value=f"{leading.leader} (epoch {leading.epoch}); any other process stands by",
            inline=False,
        )
    parked = overview.deliveries_parked
    embed.set_footer(
        text=f"Events waiting for delivery: {overview.events_pending}. "
        + (
            f"Deliveries parked after repeated listener failures: {parked} (see the logs)."
            if parked
            else "No parked deliveries."
        )
    )
    return embed


def _rooms(names: list[str]) -> str:
    if not names:
        return "0"
    shown = ", ".join(f"`{name}`" for name in names[:MAX_ROOMS_SHOWN])
    more = f" and {len(names) - MAX_ROOMS_SHOWN} more" if len(names) > MAX_ROOMS_SHOWN else ""
    return f"{len(names)}: {shown}{more}"


def outcome_text(done: str, outcome: ConnectOutcome) -> str:
    """What ``add``/``edit``/``start``/``restart`` say: whether racetime took the bot."""
    bot = outcome.bot
    head = f"{done} the `{bot.category}` bot"
    if outcome.status == BotStatus.CONNECTED:
        return f"✅ {head}: it is connected to racetime.gg."
    if outcome.status == BotStatus.AUTH_FAILED:
        return (
            f"🔑 {head}, but racetime.gg refused its credentials: {bot.status_message} "
            f"Check them on racetime.gg and give them again with "
            f"`/racetime bot edit category:{bot.category}`."
        )
    if outcome.status == BotStatus.CONNECTION_ERROR:
        return (
            f"⚠️ {head}, but racetime.gg could not be reached: {bot.status_message} "
            "RaceDesk keeps retrying; `/racetime bot list` shows when it connects."
        )
    return f"{head}. racetime.gg has not answered yet; `/racetime bot list` shows its status."
