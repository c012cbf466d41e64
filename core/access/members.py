"""Who a person is in a Discord server, for the ways in that carry no Discord context.

A slash command brings the member's permissions and roles with it; a command typed in a
racetime.gg room brings only a racetime account. RaceDesk follows the link to the person's
Discord id and asks the Discord side (``cogs/_shared/member_directory.py``) what they are in
the tournament's server, so that the same policy decides, on the same roles.
"""

from __future__ import annotations

from typing import Protocol

from core.access.actor import Actor


class MemberDirectory(Protocol):
    async def member(self, guild_id: int, discord_id: int) -> Actor | None:
        """The person as a member of ``guild_id`` (their permission bits and roles there), or
        ``None`` when they are not in it (or Discord cannot say now)."""
        ...


class NoMembers:
    """No Discord connection (the command line, tests without Discord): nobody is a member
    of any server, so only what needs no server role is allowed."""

    async def member(self, guild_id: int, discord_id: int) -> Actor | None:
        return None


async def actor_in_server(
    directory: MemberDirectory, discord_id: int | None, guild_id: int | None
) -> Actor:
    """The actor for a person known only by Discord id: a member of ``guild_id`` with their
    roles when Discord says so, else a person outside it; unknown for ``None``."""
    if discord_id is None:
        return Actor.unknown()
    if guild_id is not None:
        found = await directory.member(guild_id, discord_id)
        if found is not None:
            return found
    return Actor.user(discord_id)
