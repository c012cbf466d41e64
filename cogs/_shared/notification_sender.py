"""Sends notifications through Discord (implements ``NotificationSender`` for the delivery).

Discord's answers become the delivery's terms: a DM Discord refuses (DMs closed, 50007; no
server in common) is :class:`DeliveryRefused`; a 5xx, a network error or a rate limit that
outlasted discord.py's own waiting is a retryable :class:`DeliveryFailed`; anything else is a
permanent one. discord.py's HTTP client honours 429s itself (it waits ``retry_after``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
import discord

from cogs._shared.notification_embeds import notification_embed, room_button
from core.services.notification_delivery import (
    DeliveryFailed,
    DeliveryRefused,
    OutgoingNotification,
)

log = logging.getLogger(__name__)

# Discord error codes that mean "this person cannot get a DM from the bot".
DM_REFUSED_CODES = {
    50007: "the player does not accept DMs from the bot",
    10013: "Discord does not know this user",
    50278: "the player shares no server with the bot",
}


class DiscordNotificationSender:
    def __init__(self, client: discord.Client) -> None:
        self._client = client
        self._dm_channels: dict[int, discord.DMChannel] = {}

    async def send_dm(
        self, discord_user_id: int, message: OutgoingNotification, *, nonce: str
    ) -> None:
        async with _as_delivery_errors("DM"):
            channel = await self._dm_channel(discord_user_id)
            await self._send(channel, message, nonce=nonce)

    async def post_in_channel(
        self, channel_id: int, discord_user_id: int, message: OutgoingNotification, *, nonce: str
    ) -> str:
        async with _as_delivery_errors("fallback post"):
            channel = self._client.get_channel(channel_id) or await self._client.fetch_channel(
                channel_id
            )
            if not isinstance(channel, discord.abc.Messageable):
                raise DeliveryFailed(f"channel {channel_id} is not a text channel", permanent=True)
            await self._send(
                channel, message, nonce=nonce,
                content=f"<@{discord_user_id}>, I could not send you this by DM:",
            )
        return f"#{getattr(channel, 'name', channel_id)}"

    async def _dm_channel(self, discord_user_id: int) -> discord.DMChannel:
        channel = self._dm_channels.get(discord_user_id)
        if channel is None:
            user = self._client.get_user(discord_user_id) or await self._client.fetch_user(
                discord_user_id
            )
            channel = await user.create_dm()
            self._dm_channels[discord_user_id] = channel
        return channel

    async def _send(
        self,
        channel: discord.abc.Messageable,
        message: OutgoingNotification,
        *,
        nonce: str,
        content: str | None = None,
    ) -> None:
        view = room_button(message)
        kwargs = {"view": view} if view is not None else {}
        await channel.send(
            content=content,
            embed=notification_embed(message),
            nonce=nonce,
            allowed_mentions=discord.AllowedMentions(users=True, roles=False, everyone=False),
            **kwargs,
        )


@contextlib.asynccontextmanager
async def _as_delivery_errors(what: str) -> AsyncIterator[None]:
    """Discord's and the network's errors, as the delivery understands them."""
    try:
        yield
    except (DeliveryFailed, DeliveryRefused):
        raise
    except (discord.Forbidden, discord.NotFound) as error:
        if error.code in DM_REFUSED_CODES:
            reason = f"{DM_REFUSED_CODES[error.code]} (Discord {error.code})"
            raise DeliveryRefused(reason) from error
        raise _http_failure(error, what) from error
    except discord.RateLimited as error:
        raise DeliveryFailed(
            f"rate limited by Discord for {error.retry_after:.0f} s", retry_after=error.retry_after
        ) from error
    except discord.HTTPException as error:
        raise _http_failure(error, what) from error
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise DeliveryFailed(f"Discord could not be reached ({type(error).__name__})") from error


def _http_failure(error: discord.HTTPException, what: str) -> DeliveryFailed:
    transient = error.status >= 500 or error.status == 429
    return DeliveryFailed(
        f"Discord answered {error.status} to the {what}: {error.text or error}",
        permanent=not transient,
    )
