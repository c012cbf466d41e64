"""Sends notifications through Discord (implements ``NotificationSender`` for the delivery).

Discord's answers become the delivery's terms: a DM Discord refuses (DMs closed, 50007; no
server in common) is :class:`DeliveryRefused`; a 5xx, a network error or a rate limit that
outlasted discord.py's own waiting is a retryable :class:`DeliveryFailed`; anything else is a
permanent one. discord.py's HTTP client honours 429s itself (it waits ``retry_after``).
A :class:`~core.leadership.FencedError` (this process stopped leading, found right before a
request left: ``cogs/_shared/fenced_http.py``) is no delivery error: it goes through as it is.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord

from cogs._shared.notifications.embeds import notification_embed, room_button
from cogs._shared.pacer import Pacer
from core.leadership import FencedError
from core.notifications.delivery import OutgoingNotification
from core.sending import DeliveryFailed, DeliveryRefused

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = 10003
DmChannel = discord.DMChannel | discord.PartialMessageable

# Discord error codes that mean "this person cannot get a DM from the bot".
DM_REFUSED_CODES = {
    50007: "the player does not accept DMs from the bot",
    10013: "Discord does not know this user",
    50033: "Discord does not know this user",  # create DM: "Invalid Recipient(s)"
    50278: "the player shares no server with the bot",
}


# Discord allows a bot 50 requests a second in all; paced just under it, with room for the
# network's jitter, notifications never meet a global 429 (each 429 also counts towards
# Discord's limit of invalid requests, which bans for an hour when reached).
REQUESTS_PER_SECOND = 49.5


class DiscordNotificationSender:
    def __init__(
        self, client: discord.Client, *, requests_per_second: float = REQUESTS_PER_SECOND
    ) -> None:
        self._client = client
        self._pace = Pacer(requests_per_second)
        self._dm_channels: dict[int, DmChannel] = {}
        # One DM channel lookup per player at a time: concurrent sends to the same player
        # (several notifications in one batch) wait for it rather than repeat it.
        self._dm_locks: collections.defaultdict[int, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock
        )

    async def send_dm(
        self,
        discord_user_id: int,
        message: OutgoingNotification,
        *,
        nonce: str,
        dm_channel_id: int | None = None,
    ) -> int:
        async with as_delivery_errors("DM"):
            if dm_channel_id is not None and discord_user_id not in self._dm_channels:
                # The DM channel opened before (a restart ago): no request to open it again.
                known = self._client.get_partial_messageable(
                    dm_channel_id, type=discord.ChannelType.private
                )
                try:
                    await self._send(known, message, nonce=nonce)
                    self._dm_channels[discord_user_id] = known
                    return dm_channel_id
                except discord.NotFound as gone:
                    if gone.code != UNKNOWN_CHANNEL:
                        raise
                    log.info("The DM channel with %s is gone; opening a new one", discord_user_id)
            channel = await self._dm_channel(discord_user_id)
            await self._send(channel, message, nonce=nonce)
            return channel.id

    async def post_in_channel(
        self, channel_id: int, discord_user_id: int, message: OutgoingNotification, *, nonce: str
    ) -> str:
        async with as_delivery_errors("fallback post"):
            channel = self._client.get_channel(channel_id)
            if channel is None:
                async with self._pace:
                    channel = await self._client.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                raise DeliveryFailed(f"channel {channel_id} is not a text channel", permanent=True)
            await self._send(
                channel, message, nonce=nonce,
                content=f"<@{discord_user_id}>, I could not send you this by DM:",
            )
        return f"#{getattr(channel, 'name', channel_id)}"

    async def _dm_channel(self, discord_user_id: int) -> DmChannel:
        async with self._dm_locks[discord_user_id]:
            channel = self._dm_channels.get(discord_user_id)
            if channel is None:
                # One request (create DM), no user lookup first: every request counts
                # against Discord's global limit.
                async with self._pace:
                    channel = await self._client.create_dm(discord.Object(id=discord_user_id))
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
        # discord.py's overloads of send take a View, not None: left out when there is none.
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        async with self._pace:
            await channel.send(
                content=content,
                embed=notification_embed(message),
                nonce=nonce,
                allowed_mentions=discord.AllowedMentions(users=True, roles=False, everyone=False),
                **extra,
            )


@contextlib.asynccontextmanager
async def as_delivery_errors(what: str) -> AsyncIterator[None]:
    """Discord's and the network's errors, as the delivery understands them."""
    try:
        yield
    except (DeliveryFailed, DeliveryRefused, FencedError):
        raise
    except discord.HTTPException as error:
        if error.code in DM_REFUSED_CODES:
            reason = f"{DM_REFUSED_CODES[error.code]} (Discord {error.code})"
            raise DeliveryRefused(reason) from error
        raise _http_failure(error, what) from error
    except discord.RateLimited as error:
        raise DeliveryFailed(
            f"rate limited by Discord for {error.retry_after:.0f} s",
            retry_after=error.retry_after, rate_limited=True,
        ) from error
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise DeliveryFailed(f"Discord could not be reached ({type(error).__name__})") from error


def _http_failure(error: discord.HTTPException, what: str) -> DeliveryFailed:
    rate_limited = error.status == 429  # discord.py gave up waiting: later, not a failure
    return DeliveryFailed(
        f"Discord answered {error.status} to the {what}: {error.text or error}",
        permanent=not (error.status >= 500 or rate_limited),
        rate_limited=rate_limited,
    )
