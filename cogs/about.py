"""``/about``: what is running, for how long, and whether it is healthy."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core.health import HealthReport, HealthService

if TYPE_CHECKING:
    from bot import RaceDeskBot


def format_uptime(uptime: timedelta) -> str:
    """``2d 3h 4m``, to the minute: how long it has been up, not a stopwatch."""
    minutes = int(uptime.total_seconds()) // 60
    if minutes < 1:
        return "under a minute"
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if days or hours else []
    parts.append(f"{minutes}m")
    return " ".join(parts)


def about_embed(report: HealthReport) -> discord.Embed:
    colour = discord.Colour.green() if report.healthy else discord.Colour.orange()
    embed = discord.Embed(
        title="RaceDesk",
        description="Runs racetime.gg race rooms for Discord tournaments.",
        colour=colour,
    )
    embed.add_field(name="Version", value=report.version)
    embed.add_field(name="Uptime", value=format_uptime(report.uptime))
    embed.add_field(
        name="Started", value=f"<t:{int(report.started_at.timestamp())}:R>"
    )
    embed.add_field(
        name="Health",
        value="\n".join(
            f"{'✅' if check.ok else '⚠️'} {check.name}: {check.detail}" for check in report.checks
        ),
        inline=False,
    )
    return embed


class AboutCog(commands.Cog, name="About"):
    def __init__(self, health: HealthService) -> None:
        self._health = health

    @app_commands.command(name="about")
    async def about(self, interaction: discord.Interaction) -> None:
        """Show RaceDesk's version, uptime and health."""
        report = await self._health.report()
        await interaction.response.send_message(embed=about_embed(report), ephemeral=True)


async def setup(bot: RaceDeskBot) -> None:
    await bot.add_cog(AboutCog(bot.services.health))
