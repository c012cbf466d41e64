"""Whose clock a typed time is read on: the player's timezone, else the server's, else UTC.

Zones are IANA names (``Europe/Berlin``) from the system's tz database (``zone_names``).
A player's zone is kept on their user row and follows them to every server; a server's
default is in ``guild_settings``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.clock import Clock
from core.errors import UserFacingError
from core.times.parsing import check_in_range, parse_time
from core.times.suggestions import TimeSuggestion, suggest_times
from core.times.zone_names import known_zones, zone_called, zone_names
from db.queries.guild_settings import get_guild_settings, update_guild_settings
from db.queries.users import get_or_create_user_by_discord_id, get_user_by_discord_id

log = logging.getLogger(__name__)

UTC_ZONE = "UTC"
MAX_SUGGESTIONS = 25  # Discord shows at most 25 autocomplete choices


class UnknownTimezoneError(UserFacingError):
    """A zone name that is not in the tz database."""


def parse_zone(text: str) -> ZoneInfo:
    """The zone called ``text`` (any case, spaces for underscores), or a clear refusal."""
    typed = text.strip().replace(" ", "_")
    name = zone_called(typed)
    if name is None:
        hint = ""
        close = suggest_zones(typed, limit=3)
        if close:
            hint = " Did you mean " + ", ".join(f"`{z}`" for z in close) + "?"
        raise UnknownTimezoneError(
            f"`{text.strip()}` is not a timezone RaceDesk knows.{hint} Use an IANA name "
            "such as `Europe/Berlin`, `America/New_York` or `UTC` (the suggestions list them)."
        )
    return ZoneInfo(name)


def suggest_zones(typed: str, *, limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Zone names containing ``typed`` (any case; a space matches ``_``), those starting
    with it first."""
    needle = typed.strip().lower().replace(" ", "_")
    if not needle:
        return list(zone_names()[:limit])
    starts, contains = [], []
    for name in zone_names():
        lowered = name.lower()
        if lowered.startswith(needle) or f"/{needle}" in lowered:
            starts.append(name)
        elif needle in lowered:
            contains.append(name)
    return (starts + contains)[:limit]


class TimezoneService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditService,
        clock: Clock,
        *,
        access: AccessPolicy,
    ) -> None:
        self._access = access
        self._sessionmaker = sessionmaker
        self._audit = audit
        self._clock = clock

    async def user_timezone(self, discord_user_id: int) -> str | None:
        """The zone the player chose, if any."""
        async with self._sessionmaker() as session:
            user = await get_user_by_discord_id(session, discord_user_id)
            return user.timezone if user is not None else None

    async def set_user_timezone(self, discord_user_id: int, zone: str) -> ZoneInfo:
        """Remember the player's zone (their user row is created if missing)."""
        parsed = parse_zone(zone)
        async with self._sessionmaker.begin() as session:
            user = await get_or_create_user_by_discord_id(session, discord_user_id)
            user.timezone = parsed.key
            await session.flush()
        return parsed

    async def server_timezone(self, guild_id: int) -> str:
        async with self._sessionmaker() as session:
            return await self._server_zone(session, guild_id)

    async def set_server_timezone(
        self, guild_id: int, zone: str, *, actor: Actor
    ) -> ZoneInfo:
        """The zone plain times are read in for players without one of their own, audited."""
        await self._access.require(actor, Permission.CONFIGURE_SERVER, guild_id)
        parsed = parse_zone(zone)
        async with self._sessionmaker.begin() as session:
            old = await self._server_zone(session, guild_id)
            await update_guild_settings(session, guild_id, default_timezone=parsed.key)
            await self._audit.record(
                session, "timezone.server", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"old": old, "new": parsed.key},
            )
        return parsed

    async def timezone_for(self, discord_user_id: int, guild_id: int | None) -> ZoneInfo:
        """The zone to read ``discord_user_id``'s plain times in: theirs, else the server's,
        else UTC. A stored name the tz database no longer has falls through to the next."""
        async with self._sessionmaker() as session:
            user = await get_user_by_discord_id(session, discord_user_id)
            names = [user.timezone if user is not None else None]
            if guild_id is not None:
                names.append(await self._server_zone(session, guild_id))
        for name in names:
            if name and name in known_zones():
                return ZoneInfo(name)
            if name:
                log.warning("Stored timezone %r is unknown to the tz database; ignored", name)
        return ZoneInfo(UTC_ZONE)

    async def parse_time_for(
        self, text: str, discord_user_id: int, guild_id: int | None
    ) -> datetime:
        """What ``discord_user_id`` typed, as aware UTC; a plain date and time is read in
        :meth:`timezone_for`. Raises :class:`~core.times.parsing.TimeInputError`,
        whose examples are in that zone, also for a time before 1970 or more than a few years
        ahead."""
        zone = await self.timezone_for(discord_user_id, guild_id)
        now = self._clock.now()
        return check_in_range(parse_time(text, zone, now=now), now, " ".join(text.split()))

    async def suggest_times_for(
        self, typed: str, discord_user_id: int, guild_id: int | None
    ) -> list[TimeSuggestion]:
        """What a time option suggests to ``discord_user_id`` while ``typed`` is typed."""
        zone = await self.timezone_for(discord_user_id, guild_id)
        return suggest_times(typed, zone, self._clock.now())

    @staticmethod
    async def _server_zone(session: AsyncSession, guild_id: int) -> str:
        settings = await get_guild_settings(session, guild_id)
        return settings.default_timezone if settings is not None else UTC_ZONE
