"""Sends racetime bot alerts through Discord (implements ``core.racetime_bots.alerts.AlertSender``).

Posts in a server's admin channel, or DMs a bot owner. Discord's errors become the delivery's
terms exactly as for notifications (:func:`as_delivery_errors`).
"""

from __future__ import annotations

import discord

from cogs._shared.notifications.sender import as_delivery_errors
from core.racetime_bots.alerts import OutgoingAlert
from core.sending import DeliveryFailed

NO_MENTIONS = discord.AllowedMentions.none()


def alert_embed(alert: OutgoingAlert) -> discord.Embed:
    return discord.Embed(
        title="racetime recovered" if alert.resolved else "racetime alert",
        description=alert.text,
        colour=discord.Colour.green() if alert.resolved else discord.Colour.red(),
    )


class DiscordAlertSender:
    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def post_alert(self, channel_id: int, alert: OutgoingAlert, *, nonce: str) -> None:
        async with as_delivery_errors("alert post"):
            channel = self._client.get_channel(channel_id) or await self._client.fetch_channel(
                channel_id
            )
            if not isinstance(channel, discord.abc.Messageable):
                raise DeliveryFailed(f"channel {channel_id} is not a text channel", permanent=True)
            await channel.send(embed=alert_embed(alert), nonce=nonce, allowed_mentions=NO_MENTIONS)

    async def dm_alert(self, discord_user_id: int, alert: OutgoingAlert, *, nonce: str) -> None:
        async with as_delivery_errors("alert DM"):
            channel = await self._client.create_dm(discord.Object(id=discord_user_id))
            await channel.send(embed=alert_embed(alert), nonce=nonce, allowed_mentions=NO_MENTIONS)

