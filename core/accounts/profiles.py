"""A player's profile as RaceDesk knows it: their racetime.gg link and their timezone.

Shown by ``/profile`` to anyone and, with the link's details, by ``/racetime whois`` to
moderators; both read it here so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.access import AccessPolicy, Actor, Permission
from core.accounts.linking import LinkInfo, LinkService
from core.accounts.timezones import TimezoneService


@dataclass(frozen=True, slots=True)
class PlayerProfile:
    discord_user_id: int
    link: LinkInfo | None
    # The zone the player chose; None when they use the server's (or UTC outside a server).
    own_timezone: str | None
    timezone: str


class ProfileService:
    def __init__(
        self, linking: LinkService, timezones: TimezoneService, *, access: AccessPolicy
    ) -> None:
        self._access = access
        self._linking = linking
        self._timezones = timezones

    async def whois(self, discord_user_id: int, guild_id: int, *, actor: Actor) -> PlayerProfile:
        """A member's profile for a moderator checking their link (its details shown)."""
        await self._access.require(actor, Permission.LOOK_UP_ACCOUNTS, guild_id)
        return await self.profile_of(discord_user_id, guild_id)

    async def profile_of(self, discord_user_id: int, guild_id: int | None) -> PlayerProfile:
        zone = await self._timezones.timezone_for(discord_user_id, guild_id)
        return PlayerProfile(
            discord_user_id=discord_user_id,
            link=await self._linking.link_of(discord_user_id),
            own_timezone=await self._timezones.user_timezone(discord_user_id),
            timezone=zone.key,
        )
